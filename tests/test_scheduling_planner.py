"""Due instants from a person's zone and local times, across DST changes and quiet hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coach.scheduling.planner import (
    NUDGE_CARE_TIME,
    NUDGE_WALK_TIME,
    SPREAD_SECONDS,
    DaySchedule,
    due_instant,
    in_quiet_hours,
    local_instant,
    person_spread,
)
from coach.storage.models import FollowUpKind

LONDON = "Europe/London"
NEW_YORK = "America/New_York"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def schedule(**changes: object) -> DaySchedule:
    values: dict[str, object] = {
        "zone": LONDON,
        "checkin_time": time(19, 0),
        "morning_time": time(8, 0),
        "quiet_start": time(22, 0),
        "quiet_end": time(8, 0),
        "person_id": 42,
    }
    values.update(changes)
    return DaySchedule(**values)  # type: ignore[arg-type]


# --- local_instant -------------------------------------------------------------------------------


def test_london_winter_evening_is_the_same_in_utc() -> None:
    assert local_instant(LONDON, date(2026, 1, 15), time(19, 0)) == utc(2026, 1, 15, 19, 0)


def test_london_summer_evening_is_one_hour_earlier_in_utc() -> None:
    assert local_instant(LONDON, date(2026, 6, 15), time(19, 0)) == utc(2026, 6, 15, 18, 0)


def test_local_instant_is_aware_utc() -> None:
    instant = local_instant(LONDON, date(2026, 6, 15), time(19, 0))
    assert instant.utcoffset() == timedelta(0)


def test_london_spring_forward_gap_uses_the_old_offset() -> None:
    # 2026-03-29 01:00 GMT -> 02:00 BST: 01:30 never appears on London clocks. The planner's rule:
    # the same wall-clock reading on the old offset (GMT), i.e. 01:30 UTC = 02:30 BST.
    instant = local_instant(LONDON, date(2026, 3, 29), time(1, 30))
    assert instant == utc(2026, 3, 29, 1, 30)
    shown = instant.astimezone(ZoneInfo(LONDON))
    assert (shown.hour, shown.minute) == (2, 30)


def test_london_fall_back_repeat_uses_the_first_occurrence() -> None:
    # 2026-10-25 02:00 BST -> 01:00 GMT: 01:30 happens at 00:30 UTC (BST) and 01:30 UTC (GMT).
    instant = local_instant(LONDON, date(2026, 10, 25), time(1, 30))
    assert instant == utc(2026, 10, 25, 0, 30)
    assert instant.astimezone(ZoneInfo(LONDON)).utcoffset() == timedelta(hours=1)


def test_new_york_spring_forward_gap_uses_the_old_offset() -> None:
    # 2026-03-08 02:00 EST -> 03:00 EDT: 02:30 is sent at 02:30 EST = 07:30 UTC = 03:30 EDT.
    instant = local_instant(NEW_YORK, date(2026, 3, 8), time(2, 30))
    assert instant == utc(2026, 3, 8, 7, 30)
    shown = instant.astimezone(ZoneInfo(NEW_YORK))
    assert (shown.hour, shown.minute) == (3, 30)


def test_new_york_fall_back_repeat_uses_the_first_occurrence() -> None:
    # 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 EDT = 05:30 UTC comes first.
    assert local_instant(NEW_YORK, date(2026, 11, 1), time(1, 30)) == utc(2026, 11, 1, 5, 30)


@pytest.mark.parametrize(
    ("zone", "days", "gaps"),
    [
        # spring forward on the 29th: the day before it is 23 hours long
        (LONDON, [date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30)], [23, 24]),
        # fall back on the 25th: 25 hours
        (LONDON, [date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26)], [25, 24]),
        (NEW_YORK, [date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9)], [23, 24]),
        (NEW_YORK, [date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2)], [25, 24]),
    ],
)
def test_checkin_at_19_stays_19_local_across_dst(
    zone: str, days: list[date], gaps: list[int]
) -> None:
    instants = [local_instant(zone, day, time(19, 0)) for day in days]
    for day, instant in zip(days, instants, strict=True):
        shown = instant.astimezone(ZoneInfo(zone))
        assert (shown.date(), shown.hour, shown.minute) == (day, 19, 0)
    assert [(b - a) / timedelta(hours=1) for a, b in pairwise(instants)] == gaps


def test_london_19_00_before_and_after_spring_forward_in_utc() -> None:
    assert local_instant(LONDON, date(2026, 3, 28), time(19, 0)) == utc(2026, 3, 28, 19, 0)
    assert local_instant(LONDON, date(2026, 3, 29), time(19, 0)) == utc(2026, 3, 29, 18, 0)


# --- quiet hours ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "quiet"),
    [
        (time(22, 0), True),
        (time(23, 30), True),
        (time(0, 0), True),
        (time(3, 0), True),
        (time(7, 59), True),
        (time(8, 0), False),
        (time(12, 0), False),
        (time(21, 59), False),
    ],
)
def test_quiet_hours_wrapping_midnight(local: time, quiet: bool) -> None:
    assert in_quiet_hours(local, time(22, 0), time(8, 0)) is quiet


@pytest.mark.parametrize(
    ("local", "quiet"),
    [
        (time(12, 59), False),
        (time(13, 0), True),
        (time(14, 30), True),
        (time(14, 59), True),
        (time(15, 0), False),
        (time(23, 0), False),
        (time(0, 0), False),
    ],
)
def test_quiet_hours_not_wrapping(local: time, quiet: bool) -> None:
    assert in_quiet_hours(local, time(13, 0), time(15, 0)) is quiet


@pytest.mark.parametrize("local", [time(0, 0), time(12, 0), time(22, 0)])
def test_equal_start_and_end_means_no_quiet_hours(local: time) -> None:
    assert in_quiet_hours(local, time(22, 0), time(22, 0)) is False


# --- due_instant ---------------------------------------------------------------------------------


def test_checkin_is_due_at_the_exact_minute() -> None:
    day = date(2026, 6, 15)
    due = due_instant(FollowUpKind.CHECKIN, schedule(person_id=987654), day)
    assert due == local_instant(LONDON, day, time(19, 0)) == utc(2026, 6, 15, 18, 0)


@pytest.mark.parametrize("person_id", [1, 2, 42, 10_001, 2**40 + 7])
def test_morning_plan_is_spread_within_five_minutes(person_id: int) -> None:
    day = date(2026, 6, 15)
    due = due_instant(FollowUpKind.MORNING_PLAN, schedule(person_id=person_id), day)
    assert due is not None
    offset = (due - local_instant(LONDON, day, time(8, 0))).total_seconds()
    assert 0 <= offset < 300
    assert offset == person_spread(person_id).total_seconds()


@pytest.mark.parametrize(
    ("kind", "at"),
    [(FollowUpKind.NUDGE_WALK, NUDGE_WALK_TIME), (FollowUpKind.NUDGE_CARE, NUDGE_CARE_TIME)],
)
def test_nudges_are_spread_from_their_fixed_times(kind: FollowUpKind, at: time) -> None:
    day = date(2026, 6, 15)
    due = due_instant(kind, schedule(person_id=77), day)
    assert due == local_instant(LONDON, day, at) + person_spread(77)


def test_checkin_in_quiet_hours_is_not_due() -> None:
    assert due_instant(
        FollowUpKind.CHECKIN, schedule(checkin_time=time(23, 0)), date(2026, 6, 15)
    ) is (None)


def test_morning_plan_in_quiet_hours_is_not_due() -> None:
    due = due_instant(
        FollowUpKind.MORNING_PLAN, schedule(morning_time=time(7, 0)), date(2026, 6, 15)
    )
    assert due is None


def test_nudge_in_daytime_quiet_hours_is_not_due() -> None:
    quiet = schedule(quiet_start=time(12, 0), quiet_end=time(14, 0))
    assert due_instant(FollowUpKind.NUDGE_WALK, quiet, date(2026, 6, 15)) is None
    assert due_instant(FollowUpKind.CHECKIN, quiet, date(2026, 6, 15)) is not None


def test_checkin_just_before_quiet_hours_is_due() -> None:
    due = due_instant(FollowUpKind.CHECKIN, schedule(checkin_time=time(21, 59)), date(2026, 1, 5))
    assert due == utc(2026, 1, 5, 21, 59)


@pytest.mark.parametrize(
    "kind",
    [FollowUpKind.CHECKIN_REMINDER, FollowUpKind.CONTINUE_PROMPT, FollowUpKind.PREVENTION],
)
def test_non_daily_kinds_are_refused(kind: FollowUpKind) -> None:
    with pytest.raises(ValueError):
        due_instant(kind, schedule(), date(2026, 6, 15))


def test_checkin_on_spring_forward_day_stays_at_local_19() -> None:
    due = due_instant(FollowUpKind.CHECKIN, schedule(), date(2026, 3, 29))
    assert due == utc(2026, 3, 29, 18, 0)


# --- person_spread -------------------------------------------------------------------------------


def test_person_spread_is_deterministic() -> None:
    assert [person_spread(i) for i in range(50)] == [person_spread(i) for i in range(50)]


def test_person_spread_spreads_a_thousand_people() -> None:
    offsets = {person_spread(i) for i in range(1, 1001)}
    assert len(offsets) > 200


def test_consecutive_ids_do_not_share_an_offset() -> None:
    assert person_spread(1000) != person_spread(1001)


@given(st.integers(min_value=0, max_value=2**63))
def test_person_spread_is_always_within_the_window(person_id: int) -> None:
    seconds = person_spread(person_id).total_seconds()
    assert 0 <= seconds < SPREAD_SECONDS == 300
    assert seconds == int(seconds)
