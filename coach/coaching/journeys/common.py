"""What every journey needs: the turn being handled, and the few moves all of them make.

Where a person is in a conversation (`Person.flow`, `flow_data`) lives on their row, so a restart
in the middle of a symptom check resumes it. Asking a question stores the flow with the next
`flow_token`, and the question's buttons carry that token: a button from an older message no
longer matches and gets a graceful answer, never applied twice. Showing the waiting question again
keeps its token (any copy of it answers it, once); clearing the flow moves the token on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, time

from sqlmodel import Session

from coach.clinical import progress
from coach.clinical.understanding import prepare
from coach.clock import Clock
from coach.coaching.replies import Choice, Outcome, Reply
from coach.content import Content
from coach.content.languages import language_for_code, localised
from coach.places import country_for_zone
from coach.scheduling.planner import local_date_of
from coach.settings import Settings
from coach.storage import repository as repo
from coach.storage.models import CheckIn, Episode, EpisodeStatus, FollowUp, Person

_TIME_RE = re.compile(r"^\s*([01]?\d|2[0-3])[:.h]?([0-5]\d)?\s*$")


@dataclass(frozen=True)
class Coaching:
    """What the coach is built from: its texts, its one clock and its one settings object."""

    content: Content
    clock: Clock
    settings: Settings

    def turn(self, session: Session, person: Person) -> Turn:
        return Turn(session, person, self)

    def content_for(self, person: Person | None, language_code: str | None = None) -> Content:
        """What this person reads: their language (before they have a row, their Telegram
        app's), with where to get help in the terms of their country (from their time zone)."""
        if person is not None:
            language = person.language
        else:
            language = language_for_code(language_code, self.content.translations)
        zone = (person.timezone if person is not None else None) or self.settings.default_timezone
        content = localised(self.content, language, country_for_zone(zone))
        if content.lexicon is not None:
            prepare(content.lexicon)  # this language's reader, ready before they type
        return content


@dataclass(frozen=True)
class Turn:
    """One input or due follow-up being handled for one person, in one unit of work."""

    session: Session
    person: Person
    coaching: Coaching

    @property
    def content(self) -> Content:
        """The texts in the person's language (read afresh: /language changes it mid-turn)."""
        return self.coaching.content_for(self.person)

    @property
    def clock(self) -> Clock:
        return self.coaching.clock

    @property
    def settings(self) -> Settings:
        return self.coaching.settings

    @property
    def number(self) -> str:
        """The person's emergency number."""
        return emergency_number(self.settings, self.person)


# ---------------------------------------------------------------------- questions


def ask(
    turn: Turn,
    flow: str,
    qid: str,
    data: Mapping[str, object],
    text: str | None = None,
    options: Iterable[tuple[str, str]] | None = None,
) -> Reply:
    """Put a question to the person: the flow and a fresh token are stored on their row."""
    if options is None:
        options = turn.content.question(qid).options
    person = turn.person
    person.flow = flow
    person.flow_token += 1
    person.flow_data = {**data, "qid": qid, "text": text, "options": list(options)}
    return ask_again(turn)


def ask_again(turn: Turn) -> Reply:
    """Show the waiting question again. It keeps its own token: any copy of this question
    answers it (once), and no copy can answer a later question."""
    person = turn.person
    qid = str(person.flow_data["qid"])
    text = person.flow_data.get("text") or turn.content.question(qid).text
    if qid == "pain":
        text = f"{text}\n{turn.content.ui('pain_hint')}"
    choices = [
        Choice(label, value=value, token=person.flow_token) for value, label in options_of(person)
    ]
    return Reply(str(text), layout(choices))


def options_of(person: Person) -> list[tuple[str, str]]:
    """The (value, label) pairs of the waiting question."""
    return [(str(v), str(label)) for v, label in person.flow_data.get("options", [])]


def clear_flow(person: Person) -> None:
    person.flow = None
    person.flow_data = {}
    person.flow_token += 1  # no button of the last question can answer anything now


def with_resume(turn: Turn, replies: list[Reply]) -> Outcome:
    """Answer a command, then show the question still waiting, if any."""
    if turn.person.flow:
        replies = [*replies, Reply(turn.content.ui("mid_flow_command")), ask_again(turn)]
    return Outcome(replies)


def layout(choices: list[Choice]) -> tuple[tuple[Choice, ...], ...]:
    """Short labels share a row (pain scores, times); long ones get a row each."""
    longest = max((len(c.label) for c in choices), default=0)
    per_row = 6 if longest <= 2 else 3 if longest <= 8 else 2 if longest <= 16 else 1
    return tuple(tuple(choices[i : i + per_row]) for i in range(0, len(choices), per_row))


def menu_choices(content: Content, *, include_new: bool = False) -> tuple[tuple[Choice, ...], ...]:
    """The everyday buttons under a running plan."""
    rows: list[tuple[Choice, ...]] = [
        (
            Choice(content.ui("btn_checkin"), action="checkin"),
            Choice(content.ui("btn_today"), action="today"),
        ),
        (
            Choice(content.ui("btn_progress"), action="progress"),
            Choice(content.ui("btn_help"), action="help"),
        ),
    ]
    if include_new:
        rows.append((Choice(content.ui("btn_new_episode"), action="new_episode"),))
    return tuple(rows)


# ---------------------------------------------------------------------- the person's day


def emergency_number(settings: Settings, person: Person | None) -> str:
    if person is not None and person.emergency_number:
        return person.emergency_number
    return settings.default_emergency_number


def today_local(turn: Turn) -> date:
    zone = turn.person.timezone or turn.settings.default_timezone
    return local_date_of(zone, turn.clock.now())


def plan_day(turn: Turn, episode: Episode) -> int:
    """Today's day of the episode (day 1 = onset)."""
    if episode.onset_date is None:
        return 1
    return progress.day_number(episode.onset_date, today_local(turn))


def morning_time(turn: Turn) -> time:
    return turn.person.morning_time or turn.settings.morning_time


def quiet_start(turn: Turn) -> time:
    return turn.person.quiet_start or turn.settings.quiet_start


def quiet_end(turn: Turn) -> time:
    return turn.person.quiet_end or turn.settings.quiet_end


# ---------------------------------------------------------------------- episodes


def close_episode(turn: Turn, episode: Episode, status: EpisodeStatus) -> None:
    episode.status = status
    episode.closed_at = turn.clock.now()
    turn.session.add(episode)
    repo.cancel_pending_followups(turn.session, person=turn.person)


def pain_trend(episode: Episode, done: list[CheckIn]) -> str:
    """The baseline, then each completed check-in's score: "6 → 5 → 4"."""
    scores = [episode.baseline_pain] if episode.baseline_pain is not None else []
    scores += [c.pain for c in done if c.pain is not None]
    return " → ".join(str(s) for s in scores) if scores else "-"


def pain_in_words(turn: Turn, baseline: int, pain: int) -> str:
    """Today's pain against the first score, kindly and without overclaiming: "real progress"
    only for a clinically meaningful drop (2 points or 30%)."""
    key = (
        "pain_real_progress"
        if progress.meaningfully_improved(baseline, pain)
        else "pain_a_little_lower"
        if pain < baseline
        else "pain_same"
        if pain == baseline
        else "pain_higher"
    )
    return turn.content.ui(key, pain=pain, baseline=baseline)


def completed_checkins(turn: Turn, episode: Episode) -> list[CheckIn]:
    return [c for c in repo.checkins(turn.session, episode) if c.completed_at is not None]


# ---------------------------------------------------------------------- small helpers


def row_id(row: Person | Episode | FollowUp | CheckIn) -> int:
    assert row.id is not None, "row not flushed yet"
    return row.id


def parse_time(text: str) -> time | None:
    match = _TIME_RE.match(text)
    if not match:
        return None
    return time(int(match.group(1)), int(match.group(2) or 0))


def hhmm(value: time) -> str:
    return value.strftime("%H:%M")
