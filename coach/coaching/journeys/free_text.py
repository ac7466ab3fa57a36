"""What a person types, beyond commands: safety first, then typed answers, never a dead end.

Every message is read by the reader of `coach.clinical.understanding` (signs in the person's own
words, with what each mention means: present, denied, someone else's, past or asked about).
In every state, as the router orders it:

- words of crisis: crisis support at once;
- a present sign: at a question that offers it (the emergency question, the same-day question, a
  screening question), the typed sign is the answer, so an emergency sign there brings the
  EMERGENCY advice; anywhere else, the explicit screening question of its tier, naming what was
  understood, with one tap to confirm and the full list beside it;
- only denials at such a question: taken as "none of these", and said so; anything unclear there
  is asked again, never taken as an alarm; an emergency sign that the second reader finds very
  unlikely in the whole message (a denial or someone else's sign misread) is named and asked
  again, to be confirmed with one tap;
- a question about a sign: the emergency signs with the number, then a short answer;
- signs only denied, someone else's or in the past: one short, kind answer;
- anything not understood during a plan: the short answer and a one-tap "Something new or
  worrying?" that opens the emergency list.

Every decision taken from typed words is stored with the words that triggered it (never logged).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session

from coach.clinical import triage
from coach.clinical.tiers import Finding, Tier
from coach.clinical.understanding import Mention, Reading, Status, pain_score, reader_for
from coach.coaching.journeys.common import (
    Coaching,
    Turn,
    ask,
    ask_again,
    clear_flow,
    emergency_number,
    menu_choices,
    options_of,
    with_resume,
)
from coach.coaching.journeys.control import menu
from coach.coaching.journeys.escalation import escalate
from coach.coaching.replies import Choice, Outcome, Reply
from coach.content import Content
from coach.places import find_zone
from coach.storage import repository as repo
from coach.storage import typed_readings
from coach.storage.models import Episode, EpisodeStatus, Person

LONG_TEXT = 1500
SCREEN_QUESTION = {Tier.EMERGENCY: "emergency", Tier.URGENT: "urgent", Tier.SOON: "soon"}
SOMETHING_NEW = "something_new"  # the action of the safety-net button


@dataclass(frozen=True)
class TypedAnswer:
    """Typed text read as the answer to the waiting question, to apply as if it were tapped."""

    value: str
    note: Reply | None = None  # said before the answer is applied ("taken as none of these")


def read(content: Content, text: str) -> Reading:
    assert content.lexicon is not None, "content loaded without its lexicon"
    return reader_for(content.lexicon).read(text)


def crisis(coaching: Coaching, session: Session, person: Person | None) -> Outcome:
    """Despair or self-harm in words: crisis support, then the waiting question if any."""
    number = emergency_number(coaching.settings, person)
    outcome = Outcome([Reply(coaching.content_for(person).advice("crisis", number=number))])
    if person is not None and person.flow:
        outcome.replies.append(ask_again(coaching.turn(session, person)))
    return outcome


def crisis_support(turn: Turn) -> Reply:
    return Reply(turn.content.advice("crisis", number=turn.number))


def safety_first(turn: Turn, reading: Reading) -> Outcome | TypedAnswer | None:
    """Signs reported, denied or asked about, in whatever state the person is."""
    present = reading.present
    offered = {value for value, _ in options_of(turn.person)} if turn.person.flow else set()
    for mention in present:
        if mention.sign in offered:  # the waiting question offers it: the typed sign answers it
            if reading.doubted and mention.tier == Tier.EMERGENCY:
                # The two readers disagree: one tap to confirm, never an alarm from a misreading.
                _record(turn, "typed_sign_to_confirm", [mention])
                if not _asks_for_signs(turn):  # e.g. "how did it start?": the explicit question
                    return screen(turn, mention)
                reason = turn.content.rule_reason(mention.sign)
                said = Reply(turn.content.ui("screen_mentioned", reason=reason))
                return Outcome([said, ask_again(turn)])
            _record(turn, "answered_in_words", [mention])
            return TypedAnswer(mention.sign)
    if present and present[0].tier == Tier.SOON and present[0].sign == "low_mood":
        _record(turn, "low_mood_in_words", present[:1])
        return low_mood(turn)
    if present:
        _record(turn, f"screened_{present[0].tier.name.lower()}", present)
        return screen(turn, present[0])
    if "none" in offered and _asks_for_signs(turn):
        if reading.only_denials and not reading.possible_emergency:
            _record(turn, "denial_taken_as_none", reading.set_aside)
            note = Reply(turn.content.ui("screen_none_taken", number=turn.number))
            return TypedAnswer("none", note)
        _record(turn, "unclear_at_screening", list(reading.mentions))
        return Outcome([Reply(turn.content.ui("screen_unclear")), ask_again(turn)])
    if reading.asked or reading.asks_about_signs:
        _record(turn, "asked_about_signs", reading.asked)
        return asked(turn, reading.asked)
    if reading.possible_emergency:
        unnamed = {"sign": None, "tier": "EMERGENCY", "words": reading.possible_words}
        _record(turn, "screened_possible_emergency", [], unnamed)
        return possible_emergency(turn)
    return None


def _asks_for_signs(turn: Turn) -> bool:
    qid = str(turn.person.flow_data.get("qid", ""))
    return qid in ("emergency", "urgent", "soon")


def screen(turn: Turn, mention: Mention) -> Outcome:
    """The explicit question of the mention's tier, naming what was understood, one tap to
    confirm and the whole list beside it; the conversation resumes after a "none"."""
    person, content = turn.person, turn.content
    qid = SCREEN_QUESTION[mention.tier]
    resume = {"flow": person.flow, "data": person.flow_data} if person.flow else None
    if person.flow and person.flow.startswith("screen:"):
        resume = person.flow_data.get("resume")  # a screening question replaces another
    question = content.question(qid)
    mentioned = content.ui("screen_mentioned", reason=content.rule_reason(mention.sign))
    options = [(mention.sign, content.ui("screen_confirm")), *question.options]
    data = {"resume": resume, "typed": mention.sign}
    return Outcome(
        [
            Reply(content.ui("screen_intro")),
            ask(turn, f"screen:{qid}", qid, data, f"{mentioned}\n\n{question.text}", options),
        ]
    )


def something_new(turn: Turn) -> Outcome:
    """The safety-net button: the emergency list, then back to whatever was waiting."""
    person, content = turn.person, turn.content
    resume = {"flow": person.flow, "data": person.flow_data} if person.flow else None
    if person.flow and person.flow.startswith("screen:"):
        return Outcome([ask_again(turn)])
    text = f"{content.ui('something_new_intro')}\n\n{content.question('emergency').text}"
    return Outcome([ask(turn, "screen:emergency", "emergency", {"resume": resume}, text)])


def possible_emergency(turn: Turn) -> Outcome:
    """No sign named, but the second reader reads a possible emergency in the message: the
    emergency question with the whole list (it names no sign: it cannot know which one), then
    back to whatever was waiting."""
    person, content = turn.person, turn.content
    resume = {"flow": person.flow, "data": person.flow_data} if person.flow else None
    if person.flow and person.flow.startswith("screen:"):
        resume = person.flow_data.get("resume")  # a screening question replaces another
    text = f"{content.ui('possible_intro')}\n\n{content.question('emergency').text}"
    return Outcome([ask(turn, "screen:emergency", "emergency", {"resume": resume}, text)])


def answer_screen(turn: Turn, qid: str, value: str) -> Outcome:
    """The explicit screening question asked because of typed words (or the safety net)."""
    person, session = turn.person, turn.session
    episode = repo.open_episode(session, person)
    repo.record_answer(
        session,
        person=person,
        episode=episode,
        question=f"screen.{qid}",
        value=value,
        at=turn.clock.now(),
    )
    findings = triage.triage_answers({qid: value})
    resume = person.flow_data.get("resume")
    if findings:
        episode = _or_new_episode(turn, episode)
        replies = escalate(turn, episode, findings, {qid: value, "typed": True})
        if findings[0].tier >= Tier.URGENT:
            return Outcome(replies)
        return Outcome(replies + _resume(turn, resume))
    return Outcome(_resume(turn, resume), ack="OK")


def _resume(turn: Turn, resume: object) -> list[Reply]:
    person = turn.person
    if isinstance(resume, dict) and resume.get("flow"):
        person.flow = str(resume["flow"])
        person.flow_data = dict(resume["data"])
        return [ask_again(turn)]
    clear_flow(person)
    return [menu(turn)]


def asked(turn: Turn, mentions: list[Mention]) -> Outcome:
    """A question about a sign: the emergency signs with the number first, then the answer."""
    content = turn.content
    replies = [Reply(content.advice("emergency_info", number=turn.number))]
    net = ((Choice(content.ui("btn_something_new"), action=SOMETHING_NEW),),)
    if mentions:
        reason = content.rule_reason(mentions[0].sign)
        replies.append(
            Reply(content.ui("asked_about_signs", reason=reason, number=turn.number), net)
        )
    else:
        replies[0] = Reply(replies[0].text, net)
    return with_resume(turn, replies)


def set_aside(turn: Turn, reading: Reading) -> Outcome:
    """Signs only denied, someone else's or past: one short, kind answer, no screening. An
    emergency sign of someone else's ("my dad can't pee") may be happening now, to someone the
    person is with or typing for: the answer then says where urgent help is."""
    _record(turn, "set_aside", reading.set_aside)
    net = ((Choice(turn.content.ui("btn_something_new"), action=SOMETHING_NEW),),)
    text = turn.content.ui("set_aside_reply")
    if any(m.status == Status.OTHER_PERSON and m.tier == Tier.EMERGENCY for m in reading.mentions):
        text += "\n\n" + turn.content.advice("someone_else_emergency", number=turn.number)
    return with_resume(turn, [Reply(text, net)])


def not_understood(turn: Turn) -> Outcome:
    """Nothing waiting and nothing understood: the short answer and the safety net."""
    content = turn.content
    episode = repo.open_episode(turn.session, turn.person)
    if episode is None or episode.status != EpisodeStatus.ACTIVE:
        return Outcome([menu(turn)])
    net = (Choice(content.ui("btn_something_new"), action=SOMETHING_NEW),)
    return Outcome([Reply(content.ui("idle_safety_net"), (net, *menu_choices(content)))])


def low_mood(turn: Turn) -> Outcome:
    """Low mood said in words: the SOON advice with its signposting, once per episode."""
    episode = repo.open_episode(turn.session, turn.person)
    if episode is not None and "low_mood" not in repo.rules_fired(turn.session, episode):
        findings = [Finding(Tier.SOON, "low_mood")]
        replies = escalate(turn, episode, findings, {"free_text": "low mood words"})
    else:
        replies = [Reply(turn.content.advice("low_mood"))]
    return with_resume(turn, replies)


def long_text(turn: Turn) -> Outcome:
    return with_resume(turn, [Reply(turn.content.ui("long_message"))])


def read_typed_answer(turn: Turn, text: str) -> TypedAnswer | Outcome | None:
    """Free text where the waiting question accepts a typed answer: the answer, or the reason it
    could not be read; None when the waiting question (if any) takes taps only."""
    person = turn.person
    qid = str(person.flow_data.get("qid", "")) if person.flow else ""
    if qid == "pain":
        score = pain_score(text)
        if score is None:
            return Outcome([Reply(turn.content.ui("pain_invalid")), ask_again(turn)])
        return TypedAnswer(str(score))
    if qid == "timezone":
        zone = find_zone(text)
        if zone is None:
            return Outcome([Reply(turn.content.ui("timezone_unknown")), ask_again(turn)])
        return TypedAnswer(zone)
    if qid == "checkin_time":
        return TypedAnswer(text)  # read, and refused if need be, where the time is set
    return None


def button_expected(turn: Turn) -> Outcome:
    return Outcome([Reply(turn.content.ui("button_expected")), ask_again(turn)])


def _record(
    turn: Turn, decision: str, mentions: list[Mention], *unnamed: Mapping[str, object]
) -> None:
    """Keep the decision and the words that led to it, as a health answer of the person's (the
    second reader's words name no sign: `unnamed`)."""
    typed_readings.record(
        turn.session,
        person=turn.person,
        episode=repo.open_episode(turn.session, turn.person),
        decision=decision,
        mentions=[
            *(
                {"sign": m.sign, "tier": m.tier.name, "status": m.status.value, "words": m.words}
                for m in mentions
            ),
            *unnamed,
        ],
        at=turn.clock.now(),
    )


def _or_new_episode(turn: Turn, episode: Episode | None) -> Episode:
    """A red flag before any symptom check still gets an episode to be recorded on."""
    if episode is not None:
        return episode
    return repo.start_episode(turn.session, person=turn.person, at=turn.clock.now())
