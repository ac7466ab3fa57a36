"""Outcomes for operators: counts over a period, never a person.

Every figure is an aggregate (a count, a ratio or a quantile of days); nothing here returns an
id, a date of a single person or an answer. The same numbers feed `coach report` and /metrics.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, func, select

from coach.storage.models import CheckIn, Decision, Episode, EpisodeStatus, Person
from coach.storage.report_data import REPORT_REQUEST

TIER_NAMES = ("self", "soon", "urgent", "emergency")  # by Tier value 0-3


@dataclass(frozen=True)
class Period:
    """[since, until) in UTC; None leaves that side open."""

    since: datetime | None = None
    until: datetime | None = None

    def where(self, column: object) -> list[sa.ColumnElement[bool]]:
        clauses = []
        if self.since is not None:
            clauses.append(col(column) >= self.since)
        if self.until is not None:
            clauses.append(col(column) < self.until)
        return clauses


@dataclass(frozen=True)
class Quartiles:
    q1: float
    median: float
    q3: float


@dataclass
class Outcomes:
    period: Period
    people_started: int = 0
    people_consented: int = 0
    episodes_started: int = 0
    episodes_by_tier: dict[str, int] = field(default_factory=dict)
    escalations_by_rule: dict[str, int] = field(default_factory=dict)
    checkins_opened: int = 0
    checkins_completed: int = 0
    recoveries: int = 0
    # The day of the episode on which recovery was confirmed (day 1 = the day it started).
    recovery_day: Quartiles | None = None
    report_requests: int = 0
    people_asking_for_report: int = 0

    @property
    def checkin_adherence(self) -> float | None:
        """Completed check-ins out of those opened (None when none were opened)."""
        if not self.checkins_opened:
            return None
        return self.checkins_completed / self.checkins_opened


def quartiles(values: list[int]) -> Quartiles | None:
    """Q1, median and Q3 with the inclusive method (the median of 1, 2, 3, 4 is 2.5)."""
    if not values:
        return None
    if len(values) == 1:
        return Quartiles(values[0], values[0], values[0])
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return Quartiles(q1, median, q3)


def _count(connection: sa.Connection, statement: Any) -> int:
    return int(connection.execute(statement).scalar_one())


def outcomes(engine: sa.Engine, period: Period | None = None) -> Outcomes:
    """Every figure of the operators' report for `period` (all time when None)."""
    period = period or Period()
    result = Outcomes(period)
    with engine.connect() as db:
        result.people_started = _count(
            db, select(func.count()).select_from(Person).where(*period.where(Person.created_at))
        )
        result.people_consented = _count(
            db, select(func.count()).select_from(Person).where(*period.where(Person.consent_at))
        )
        episodes_in = period.where(Episode.started_at)
        by_tier = dict(
            db.execute(
                select(col(Episode.tier), func.count())
                .where(*episodes_in)
                .group_by(col(Episode.tier))
            ).all()
        )
        result.episodes_by_tier = {
            name: int(by_tier.get(tier, 0)) for tier, name in enumerate(TIER_NAMES)
        }
        result.episodes_started = sum(result.episodes_by_tier.values())
        result.escalations_by_rule = {
            str(rule): int(n)
            for rule, n in db.execute(
                select(col(Decision.rule), func.count())
                .where(Decision.kind == "escalation", *period.where(Decision.decided_at))
                .group_by(Decision.rule)
                .order_by(col(Decision.rule))
            ).all()
        }
        checkins_in = period.where(CheckIn.started_at)
        result.checkins_opened = _count(
            db, select(func.count()).select_from(CheckIn).where(*checkins_in)
        )
        result.checkins_completed = _count(
            db,
            select(func.count())
            .select_from(CheckIn)
            .where(col(CheckIn.completed_at).is_not(None), *checkins_in),
        )
        recovery_days = [
            int(day)
            for (day,) in db.execute(
                select(func.max(CheckIn.day))
                .join(Episode, col(Episode.id) == col(CheckIn.episode_id))
                .where(
                    Episode.status == EpisodeStatus.RECOVERED,
                    col(CheckIn.completed_at).is_not(None),
                    *period.where(Episode.closed_at),
                )
                .group_by(col(Episode.id))
            ).all()
            if day is not None
        ]
        result.recoveries = len(recovery_days)
        result.recovery_day = quartiles(recovery_days)
        asked = period.where(Decision.decided_at)
        result.report_requests = _count(
            db,
            select(func.count())
            .select_from(Decision)
            .where(Decision.kind == REPORT_REQUEST, *asked),
        )
        result.people_asking_for_report = _count(
            db,
            select(func.count(sa.distinct(col(Decision.person_id)))).where(
                Decision.kind == REPORT_REQUEST, *asked
            ),
        )
    return result


@dataclass(frozen=True)
class MetricSample:
    name: str
    help: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)


def outcome_metrics(engine: sa.Engine) -> list[MetricSample]:
    """The all-time outcomes as metric samples for /metrics (names are `coach_outcome_*`)."""
    result = outcomes(engine)
    samples = [
        MetricSample(
            "coach_outcome_people_started", "People who started a chat", result.people_started
        ),
        MetricSample(
            "coach_outcome_people_consented",
            "People who agreed to coaching",
            result.people_consented,
        ),
        MetricSample(
            "coach_outcome_checkins_opened", "Daily check-ins opened", result.checkins_opened
        ),
        MetricSample(
            "coach_outcome_checkins_completed",
            "Daily check-ins completed",
            result.checkins_completed,
        ),
        MetricSample("coach_outcome_recoveries", "Episodes closed as recovered", result.recoveries),
        MetricSample(
            "coach_outcome_clinician_report_requests",
            "Clinician reports asked for",
            result.report_requests,
        ),
        MetricSample(
            "coach_outcome_people_asking_for_clinician_report",
            "People who asked for a clinician report at least once",
            result.people_asking_for_report,
        ),
    ]
    samples += [
        MetricSample(
            "coach_outcome_episodes", "Episodes started, by highest tier", n, {"tier": tier}
        )
        for tier, n in result.episodes_by_tier.items()
    ]
    samples += [
        MetricSample(
            "coach_outcome_escalations", "Escalation decisions, by rule", n, {"rule": rule}
        )
        for rule, n in result.escalations_by_rule.items()
    ]
    # Always present (NaN when there is nothing to measure), so dashboards show "no data".
    adherence = result.checkin_adherence
    samples.append(
        MetricSample(
            "coach_outcome_checkin_adherence_ratio",
            "Completed out of opened daily check-ins",
            math.nan if adherence is None else adherence,
        )
    )
    q = result.recovery_day
    for quantile, name in (("0.25", "q1"), ("0.5", "median"), ("0.75", "q3")):
        samples.append(
            MetricSample(
                "coach_outcome_recovery_day",
                "Day of the episode on which recovery was confirmed (day 1 = onset)",
                math.nan if q is None else getattr(q, name),
                {"quantile": quantile},
            )
        )
    return samples
