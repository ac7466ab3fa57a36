"""What the clinician's report and the pain chart are made of, read for one episode.

Plain rows out (codes and UTC instants); the coaching layer turns them into words and local
dates. Asking for the report is recorded as a decision of its own kind, with no answers: it is
exported and erased with the person like every other row, and operators can count it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, or_, select

from coach.storage.models import Answer, CheckIn, Decision, Episode

REPORT_REQUEST = "clinician_report"  # Decision.kind (and rule) of "the person asked for it"
EMERGENCY_QUESTIONS = ("emergency", "checkin.emergency")
SCREEN_PREFIX = "screen."
# The last question of the symptom check: answered means the plan (and its medicines
# information) started straight after.
LAST_CHECK_QUESTION = "age"


@dataclass(frozen=True)
class CheckinFact:
    day: int
    local_date: date
    pain: int | None
    managed: str | None  # "both", "care", "walks", "neither"


@dataclass(frozen=True)
class ScreenFact:
    at: datetime
    question: str  # "emergency" (symptom check), "checkin.emergency", "screen.<question>"
    value: str
    checkin_day: int | None


@dataclass(frozen=True)
class DecisionFact:
    at: datetime
    kind: str
    tier: int
    rule: str


@dataclass(frozen=True)
class EpisodeFacts:
    started_at: datetime
    closed_at: datetime | None
    onset_date: date | None
    location: str | None
    trigger: str | None
    baseline_pain: int | None
    status: str
    tier: int
    checkins: list[CheckinFact]  # completed ones, oldest first
    screens: list[ScreenFact]
    decisions: list[DecisionFact]  # without report requests
    plan_started: list[datetime]  # when the plan (with its medicines information) was shown


def episode_facts(session: Session, episode: Episode) -> EpisodeFacts:
    checkins = session.exec(
        select(CheckIn)
        .where(CheckIn.episode_id == episode.id, col(CheckIn.completed_at).is_not(None))
        .order_by(col(CheckIn.local_date), col(CheckIn.id))
    ).all()
    day_of_checkin = {
        c.id: c.day
        for c in session.exec(select(CheckIn).where(CheckIn.episode_id == episode.id)).all()
    }
    answers = session.exec(
        select(Answer)
        .where(
            Answer.episode_id == episode.id,
            or_(
                col(Answer.question).in_((*EMERGENCY_QUESTIONS, LAST_CHECK_QUESTION)),
                col(Answer.question).startswith(SCREEN_PREFIX),
            ),
        )
        .order_by(col(Answer.answered_at), col(Answer.id))
    ).all()
    decisions = session.exec(
        select(Decision).where(Decision.episode_id == episode.id).order_by(col(Decision.id))
    ).all()
    assert episode.started_at is not None
    return EpisodeFacts(
        started_at=episode.started_at,
        closed_at=episode.closed_at,
        onset_date=episode.onset_date,
        location=episode.location,
        trigger=episode.trigger,
        baseline_pain=episode.baseline_pain,
        status=episode.status,
        tier=episode.tier,
        checkins=[CheckinFact(c.day, c.local_date, c.pain, c.managed) for c in checkins],
        screens=[
            ScreenFact(_at(a.answered_at), a.question, a.value, day_of_checkin.get(a.checkin_id))
            for a in answers
            if a.question != LAST_CHECK_QUESTION
        ],
        decisions=[
            DecisionFact(_at(d.decided_at), d.kind, d.tier, d.rule)
            for d in decisions
            if d.kind != REPORT_REQUEST
        ],
        plan_started=sorted(
            [_at(a.answered_at) for a in answers if a.question == LAST_CHECK_QUESTION]
            + [_at(d.decided_at) for d in decisions if d.kind == "seen_clinician"]
        ),
    )


def record_report_request(
    session: Session, *, person_id: int, episode_id: int | None, at: datetime
) -> None:
    """Count one request for the clinician's report (no answers, nothing else kept)."""
    session.add(
        Decision(
            person_id=person_id,
            episode_id=episode_id,
            decided_at=at,
            kind=REPORT_REQUEST,
            tier=0,  # not advice: never read as a tier the episode reached
            rule=REPORT_REQUEST,
            answers={},
        )
    )


def _at(value: datetime | None) -> datetime:
    assert value is not None
    return value
