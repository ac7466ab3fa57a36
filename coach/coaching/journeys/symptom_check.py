"""The symptom check: eight questions, emergency signs first, that open an episode.

Each answer is recorded and triaged at once: an URGENT or EMERGENCY sign stops the check and
escalates. At the end a SOON finding (or pain that has lasted) is advised on, and the plan starts.
"""

from __future__ import annotations

from datetime import timedelta

from coach.clinical import progress, triage
from coach.clinical.tiers import Tier
from coach.coaching.journeys.common import (
    Turn,
    ask,
    ask_again,
    clear_flow,
    close_episode,
    plan_day,
    today_local,
)
from coach.coaching.journeys.control import menu
from coach.coaching.journeys.escalation import escalate
from coach.coaching.journeys.plan import start_plan
from coach.coaching.replies import Outcome, Reply
from coach.storage import repository as repo
from coach.storage.models import Episode, EpisodeStatus, PersonState

QUESTIONS = ("emergency", "location", "onset", "trigger", "pain", "urgent", "soon", "age")


def begin(turn: Turn) -> list[Reply]:
    """Open a new episode (closing any open one) and ask the first question."""
    current = repo.open_episode(turn.session, turn.person)
    if current is not None:
        close_episode(turn, current, EpisodeStatus.CLOSED)
    episode = repo.start_episode(turn.session, person=turn.person, at=turn.clock.now())
    intro = Reply(turn.content.ui("check_intro"))
    first = QUESTIONS[0]
    data: dict[str, object] = {"episode_id": episode.id, "answers": {}}
    return [intro, ask(turn, f"check:{first}", first, data)]


def start_check(turn: Turn) -> Outcome:
    """The "Start symptom check" button: a check already under way is shown, not restarted."""
    person = turn.person
    if person.flow and person.flow.startswith("check:"):
        return Outcome([ask_again(turn)])
    return new_episode(turn)


def new_episode(turn: Turn) -> Outcome:
    """The "A new back spasm" button: always a fresh check."""
    turn.person.state = PersonState.ACTIVE
    return Outcome(begin(turn))


def answer(turn: Turn, qid: str, value: str) -> Outcome:
    person, session = turn.person, turn.session
    now = turn.clock.now()
    data = dict(person.flow_data)
    episode = repo.episode_by_id(session, data.get("episode_id"))
    if episode is None or episode.status != EpisodeStatus.ASSESSING:
        clear_flow(person)
        return Outcome([menu(turn)])
    repo.record_answer(session, person=person, episode=episode, question=qid, value=value, at=now)
    answers = {**data.get("answers", {}), qid: value}
    data["answers"] = answers
    _store_on_episode(turn, episode, qid, value)
    findings = triage.triage_answers(answers)
    if findings and findings[0].tier >= Tier.URGENT:
        return Outcome(escalate(turn, episode, findings, answers))
    following = QUESTIONS.index(qid) + 1
    if following < len(QUESTIONS):
        next_qid = QUESTIONS[following]
        return Outcome([ask(turn, f"check:{next_qid}", next_qid, data)], in_place=True)
    # The check is complete: SOON or SELF; persistence can only be judged at day 14.
    assert episode.onset_date is not None and episode.baseline_pain is not None
    findings += progress.lasting_at_first_check(plan_day(turn, episode), episode.baseline_pain)
    clear_flow(person)
    replies: list[Reply] = []
    if findings:
        replies += escalate(turn, episode, findings, answers)
    else:
        repo.record_decision(
            session,
            person=person,
            episode=episode,
            kind="triage",
            tier=Tier.SELF,
            rule="no_red_flags",
            answers=answers,
            at=now,
        )
        replies.append(Reply(turn.content.ui("result_self")))
    replies += start_plan(turn, episode)
    return Outcome(replies)


def _store_on_episode(turn: Turn, episode: Episode, qid: str, value: str) -> None:
    if qid == "location":
        episode.location = value
    elif qid == "onset":
        episode.onset_date = today_local(turn) - timedelta(days=int(value))
    elif qid == "trigger":
        episode.trigger = value
    elif qid == "pain":
        episode.baseline_pain = int(value)
    elif qid == "age":
        episode.age_band = value
