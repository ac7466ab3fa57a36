"""What a person types, beyond commands: safety first, then typed answers.

Words of crisis get crisis support at once; words that sound like a red flag bring the explicit
emergency (or urgent) question, and the conversation resumes after a "none"; low mood gets its
advice once per episode. A number where a pain score is asked, a place where a zone is asked and
a time where a check-in time is asked are read as answers. The router decides the order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session

from coach.clinical import triage
from coach.clinical.tiers import Finding, Tier
from coach.coaching.journeys.common import (
    Coaching,
    Turn,
    ask,
    ask_again,
    clear_flow,
    emergency_number,
    with_resume,
)
from coach.coaching.journeys.control import menu
from coach.coaching.journeys.escalation import escalate
from coach.coaching.replies import Outcome, Reply
from coach.places import find_zone
from coach.storage import repository as repo
from coach.storage.models import Episode, Person

LONG_TEXT = 1500
_PAIN_RE = re.compile(r"^\D{0,24}?\b(10|[0-9])\b(\s*(/|out of|of)\s*10)?\D{0,24}$", re.I)


@dataclass(frozen=True)
class TypedAnswer:
    """Typed text read as the answer to the waiting question, to apply as if it were tapped."""

    value: str


def crisis(coaching: Coaching, session: Session, person: Person | None) -> Outcome:
    """Despair or self-harm in words: crisis support, then the waiting question if any."""
    number = emergency_number(coaching.settings, person)
    outcome = Outcome([Reply(coaching.content.advice("crisis", number=number))])
    if person is not None and person.flow:
        outcome.replies.append(ask_again(coaching.turn(session, person)))
    return outcome


def red_flag(turn: Turn, flag: Tier) -> Outcome:
    """Words that sound like an EMERGENCY or URGENT sign: ask the explicit question about it."""
    person = turn.person
    flow = person.flow or ""
    qid = "emergency" if flag == Tier.EMERGENCY else "urgent"
    if flow.endswith(":emergency") and flag == Tier.EMERGENCY:
        # The explicit question is on screen and the person describes a sign in words:
        # over-caution costs a phone call, a miss could cost much more.
        episode = _or_new_episode(turn, repo.open_episode(turn.session, person))
        findings = [Finding(Tier.EMERGENCY, "reported_in_text")]
        return Outcome(escalate(turn, episode, findings, {"free_text": "red flag words"}))
    if flow.endswith(f":{qid}"):
        return button_expected(turn)
    resume = {"flow": person.flow, "data": person.flow_data} if person.flow else None
    if person.flow and person.flow.startswith("screen:"):
        # A screening question replaces another: resume what was asked before either.
        resume = person.flow_data.get("resume")
    return Outcome(
        [
            Reply(turn.content.ui("screen_intro")),
            ask(turn, f"screen:{qid}", qid, {"resume": resume}),
        ]
    )


def answer_screen(turn: Turn, qid: str, value: str) -> Outcome:
    """The explicit screening question asked because free text sounded like a red flag."""
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
    if findings:
        episode = _or_new_episode(turn, episode)
        return Outcome(escalate(turn, episode, findings, {qid: value}))
    resume = person.flow_data.get("resume")
    if resume:
        person.flow = resume["flow"]
        person.flow_data = resume["data"]
        return Outcome([ask_again(turn)])
    clear_flow(person)
    return Outcome([menu(turn)], ack="OK")


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
        match = _PAIN_RE.match(text.strip())
        if not match:
            return Outcome([Reply(turn.content.ui("pain_invalid")), ask_again(turn)])
        return TypedAnswer(match.group(1))
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


def _or_new_episode(turn: Turn, episode: Episode | None) -> Episode:
    """A red flag before any symptom check still gets an episode to be recorded on."""
    if episode is not None:
        return episode
    return repo.start_episode(turn.session, person=turn.person, at=turn.clock.now())
