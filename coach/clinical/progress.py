"""Plan phase, persistence ("past a few days") and recovery rules of CLINICAL.md."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from coach.clinical.tiers import Finding, Tier

# A change of 2 points or 30% from the first score is clinically meaningful (Farrar 2001;
# Ostelo 2008). Recovery is pain 0-1 (Kamper 2010).
MEANINGFUL_POINTS = 2
MEANINGFUL_FRACTION = 0.3
RECOVERED_MAX_PAIN = 1
JUMP_POINTS = 3
ICE_PHASE_DAYS = 2  # the first 48 hours


class Phase(StrEnum):
    ICE = "ice"
    HEAT = "heat"
    PREVENTION = "prevention"


@dataclass(frozen=True)
class CheckinScore:
    """One completed daily check-in, as the rules see it."""

    day: int
    pain: int
    daily_activities_ok: bool | None = None


def day_number(onset: date, today: date) -> int:
    """Day 1 is the day of onset (both dates are the person's local dates)."""
    return max(1, (today - onset).days + 1)


def plan_phase(day: int, recovered: bool = False) -> Phase:
    if recovered:
        return Phase.PREVENTION
    return Phase.ICE if day <= ICE_PHASE_DAYS else Phase.HEAT


def meaningfully_improved(baseline: int, pain: int) -> bool:
    drop = baseline - pain
    if drop >= MEANINGFUL_POINTS:
        return True
    return baseline > 0 and drop / baseline >= MEANINGFUL_FRACTION


def is_recovered(history: Sequence[CheckinScore]) -> bool:
    """Two consecutive check-ins at 0-1."""
    return len(history) >= 2 and all(c.pain <= RECOVERED_MAX_PAIN for c in history[-2:])


def escalate_if_persisting(
    baseline: int, history: Sequence[CheckinScore], already_fired: frozenset[str] = frozenset()
) -> list[Finding]:
    """SOON findings after the latest check-in in `history` (oldest first).

    Each rule fires once per episode: `already_fired` holds the rule ids the episode has already
    acted on, so a person is told once, not every evening.
    """
    if not history:
        return []
    latest = history[-1]
    previous_pain = history[-2].pain if len(history) >= 2 else baseline
    improved = meaningfully_improved(baseline, latest.pain)
    candidates: list[str] = []
    if latest.pain - previous_pain >= JUMP_POINTS:
        candidates.append("pain_jumped")
    if len(history) >= 2 and all(c.pain > baseline for c in history[-2:]):
        candidates.append("worse_than_baseline_twice")
    if latest.day >= 14 and latest.pain >= 3:
        candidates.append("lasting_day14")
    if latest.day >= 7 and not improved:
        candidates.append("no_improvement_day7")
    if latest.day >= 3 and not improved:
        candidates.append("no_improvement_day3")
    if latest.day >= 7 and latest.daily_activities_ok is False:
        candidates.append("daily_activities_after_week")
    return [Finding(Tier.SOON, rule) for rule in candidates if rule not in already_fired]


def lasting_at_first_check(day: int, pain: int) -> list[Finding]:
    """At the symptom check the only persistence rule that can be judged is the day-14 one."""
    if day >= 14 and pain >= 3:
        return [Finding(Tier.SOON, "lasting_day14")]
    return []
