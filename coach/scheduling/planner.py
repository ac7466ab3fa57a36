"""Due instants of follow-ups, from a person's IANA zone and local times.

Rules, stated once:
- A local time that does not exist (spring-forward gap) is sent at the same wall-clock reading
  on the old offset, which is the moment the clock jumps past it (02:30 in a 02:00->03:00 gap is
  sent at 03:30 local, the same instant as 02:30 on the old offset).
- A local time that exists twice (fall-back repeat) is sent once, at its first occurrence.
- Morning messages and nudges are spread by a fixed per-person offset of up to 5 minutes, so a large
  deployment does not burst at 08:00:00. Check-ins come at the exact minute chosen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from coach.storage.models import FollowUpKind

SPREAD_SECONDS = 300
NUDGE_WALK_TIME = time(13, 0)
NUDGE_CARE_TIME = time(16, 30)


def local_instant(zone: str, day: date, at: time) -> datetime:
    """The UTC instant of local wall time `at` on `day` in `zone` (fold=0: see module rules)."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def local_date_of(zone: str, instant: datetime) -> date:
    return instant.astimezone(ZoneInfo(zone)).date()


def in_quiet_hours(local: time, quiet_start: time, quiet_end: time) -> bool:
    if quiet_start == quiet_end:
        return False
    if quiet_start < quiet_end:
        return quiet_start <= local < quiet_end
    return local >= quiet_start or local < quiet_end  # the window wraps past midnight


def person_spread(person_id: int) -> timedelta:
    # Knuth's multiplicative hash spreads consecutive ids across the window.
    return timedelta(seconds=(person_id * 2654435761) % SPREAD_SECONDS)


@dataclass(frozen=True)
class DaySchedule:
    """The person's times that shape a day of follow-ups."""

    zone: str
    checkin_time: time
    morning_time: time
    quiet_start: time
    quiet_end: time
    person_id: int


def due_instant(kind: FollowUpKind, schedule: DaySchedule, day: date) -> datetime | None:
    """When a follow-up of `kind` falls due on local `day`, or None when quiet hours rule it out."""
    local_time: time
    spread = timedelta(0)
    if kind == FollowUpKind.CHECKIN:
        local_time = schedule.checkin_time
    elif kind == FollowUpKind.MORNING_PLAN:
        local_time = schedule.morning_time
        spread = person_spread(schedule.person_id)
    elif kind == FollowUpKind.NUDGE_WALK:
        local_time, spread = NUDGE_WALK_TIME, person_spread(schedule.person_id)
    elif kind == FollowUpKind.NUDGE_CARE:
        local_time, spread = NUDGE_CARE_TIME, person_spread(schedule.person_id)
    else:
        raise ValueError(f"{kind} is not a daily follow-up")
    if in_quiet_hours(local_time, schedule.quiet_start, schedule.quiet_end):
        return None
    return local_instant(schedule.zone, day, local_time) + spread


# A day's unprompted messages: the morning steps (cold or heat among them), one walk nudge and the
# check-in. NUDGE_CARE is no longer scheduled (its advice is in the morning steps); rows of it
# written before are still due and are skipped when they come.
DAILY_KINDS = (
    FollowUpKind.MORNING_PLAN,
    FollowUpKind.NUDGE_WALK,
    FollowUpKind.CHECKIN,
)
