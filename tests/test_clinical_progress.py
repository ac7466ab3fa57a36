"""Day numbering, plan phase, meaningful improvement, persistence and recovery (CLINICAL.md)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coach.clinical.progress import (
    CheckinScore,
    Phase,
    day_number,
    escalate_if_persisting,
    is_recovered,
    lasting_at_first_check,
    meaningfully_improved,
    plan_phase,
)
from coach.clinical.tiers import Finding, Tier

ALL_RULES = (
    "pain_jumped",
    "worse_than_baseline_twice",
    "lasting_day14",
    "no_improvement_day7",
    "no_improvement_day3",
    "daily_activities_after_week",
)
ONSET = date(2026, 3, 27)


def rules(findings: list[Finding]) -> set[str]:
    return {f.rule for f in findings}


def scores(*pairs: tuple[int, int]) -> list[CheckinScore]:
    return [CheckinScore(day=day, pain=pain) for day, pain in pairs]


# --- day numbering and phase -------------------------------------------------------------------


def test_onset_day_is_day_1() -> None:
    assert day_number(ONSET, ONSET) == 1


def test_day_after_onset_is_day_2_and_a_fortnight_later_is_day_15() -> None:
    assert day_number(ONSET, ONSET + timedelta(days=1)) == 2
    assert day_number(ONSET, ONSET + timedelta(days=14)) == 15


def test_day_numbering_crosses_month_end_and_dst() -> None:
    # 2026-03-29 is the spring-forward day in Europe; local dates are plain dates.
    assert day_number(date(2026, 3, 28), date(2026, 4, 2)) == 6


def test_today_before_onset_is_still_day_1() -> None:
    assert day_number(ONSET, ONSET - timedelta(days=1)) == 1


@pytest.mark.parametrize("day", [1, 2])
def test_ice_on_days_1_and_2(day: int) -> None:
    assert plan_phase(day) == Phase.ICE


@pytest.mark.parametrize("day", [3, 4, 7, 14, 30])
def test_heat_from_day_3(day: int) -> None:
    assert plan_phase(day) == Phase.HEAT


@pytest.mark.parametrize("day", [1, 3, 10])
def test_prevention_when_recovered(day: int) -> None:
    assert plan_phase(day, recovered=True) == Phase.PREVENTION


# --- meaningful improvement: 2 points or 30% of the first score -------------------------------


@pytest.mark.parametrize(
    ("baseline", "pain", "improved"),
    [
        (6, 4, True),  # 2 points
        (6, 5, False),  # 1 point, 17%
        (3, 2, True),  # 1 point but 33%
        (10, 8, True),  # 2 points, 20%
        (10, 9, False),  # 1 point, 10%
        (4, 3, False),  # 1 point, 25%
        (2, 1, True),  # 50%
        (8, 8, False),
        (5, 7, False),  # worse
        (0, 0, False),  # no pain to improve from
        (0, 1, False),
        (1, 0, True),
    ],
)
def test_meaningful_improvement_thresholds(baseline: int, pain: int, improved: bool) -> None:
    assert meaningfully_improved(baseline, pain) is improved


# --- persistence rules ---------------------------------------------------------------------------


def test_day3_without_improvement_prompts_doctor() -> None:
    findings = escalate_if_persisting(6, scores((2, 6), (3, 5)))
    assert findings == [Finding(Tier.SOON, "no_improvement_day3")]


def test_day2_without_improvement_is_too_early() -> None:
    assert escalate_if_persisting(6, scores((2, 6))) == []


def test_improving_by_day3_prompts_nothing() -> None:
    assert escalate_if_persisting(6, scores((2, 5), (3, 4))) == []


def test_missed_day3_checkin_still_prompts_on_day4() -> None:
    assert rules(escalate_if_persisting(6, scores((2, 6), (4, 6)))) == {"no_improvement_day3"}


def test_pain_above_baseline_on_two_consecutive_checkins_is_soon() -> None:
    findings = escalate_if_persisting(5, scores((2, 6), (3, 6)))
    assert "worse_than_baseline_twice" in rules(findings)
    assert all(f.tier == Tier.SOON for f in findings)


def test_pain_above_baseline_once_is_not_worse_twice() -> None:
    findings = escalate_if_persisting(5, scores((2, 6), (3, 5)))
    assert "worse_than_baseline_twice" not in rules(findings)


def test_pain_above_baseline_twice_but_not_consecutively_is_not_worse_twice() -> None:
    findings = escalate_if_persisting(5, scores((2, 6), (3, 5), (4, 6)))
    assert "worse_than_baseline_twice" not in rules(findings)


def test_jump_of_3_points_in_a_day_is_soon() -> None:
    assert escalate_if_persisting(5, scores((2, 8))) == [Finding(Tier.SOON, "pain_jumped")]


def test_jump_from_the_previous_checkin_not_just_the_baseline() -> None:
    findings = escalate_if_persisting(8, scores((2, 2), (3, 5)))
    assert rules(findings) == {"pain_jumped"}


def test_rise_of_2_points_is_not_a_jump() -> None:
    assert escalate_if_persisting(8, scores((2, 2), (3, 4))) == []


def test_day7_without_improvement_prompts_again() -> None:
    findings = escalate_if_persisting(
        6, scores((5, 6), (6, 6), (7, 5)), already_fired=frozenset({"no_improvement_day3"})
    )
    assert findings == [Finding(Tier.SOON, "no_improvement_day7")]


def test_day7_with_improvement_prompts_nothing() -> None:
    assert escalate_if_persisting(6, scores((6, 4), (7, 3))) == []


def test_day14_still_at_3_is_lasting() -> None:
    findings = escalate_if_persisting(8, scores((13, 3), (14, 3)))
    assert findings == [Finding(Tier.SOON, "lasting_day14")]


def test_day14_at_2_is_not_lasting() -> None:
    assert escalate_if_persisting(8, scores((13, 2), (14, 2))) == []


def test_day13_at_3_is_not_lasting_yet() -> None:
    assert escalate_if_persisting(8, scores((12, 3), (13, 3))) == []


def test_cannot_do_daily_activities_after_a_week_is_soon() -> None:
    history = [CheckinScore(6, 4), CheckinScore(7, 4, daily_activities_ok=False)]
    assert escalate_if_persisting(8, history) == [Finding(Tier.SOON, "daily_activities_after_week")]


def test_cannot_do_daily_activities_before_a_week_is_not_flagged() -> None:
    history = [CheckinScore(5, 4), CheckinScore(6, 4, daily_activities_ok=False)]
    assert escalate_if_persisting(8, history) == []


@pytest.mark.parametrize("ok", [True, None])
def test_daily_activities_ok_or_unasked_after_a_week_is_not_flagged(ok: bool | None) -> None:
    history = [CheckinScore(6, 4), CheckinScore(7, 4, daily_activities_ok=ok)]
    assert escalate_if_persisting(8, history) == []


def test_rules_already_fired_do_not_fire_again() -> None:
    history = [CheckinScore(13, 7), CheckinScore(14, 10, daily_activities_ok=False)]
    every = escalate_if_persisting(6, history)
    assert rules(every) == set(ALL_RULES)
    assert escalate_if_persisting(6, history, already_fired=frozenset(ALL_RULES)) == []
    partial = escalate_if_persisting(
        6, history, already_fired=frozenset({"no_improvement_day3", "pain_jumped"})
    )
    assert rules(partial) == set(ALL_RULES) - {"no_improvement_day3", "pain_jumped"}


def test_no_checkins_yet_prompts_nothing() -> None:
    assert escalate_if_persisting(9, []) == []


# --- recovery ------------------------------------------------------------------------------------


def test_two_consecutive_checkins_at_0_or_1_is_recovered() -> None:
    assert is_recovered(scores((4, 1), (5, 0)))
    assert is_recovered(scores((2, 6), (3, 3), (4, 1), (5, 1)))


def test_one_checkin_at_0_is_not_recovered() -> None:
    assert not is_recovered(scores((2, 0)))
    assert not is_recovered(scores((2, 5), (3, 0)))


def test_1_then_2_is_not_recovered() -> None:
    assert not is_recovered(scores((4, 1), (5, 2)))


def test_0_1_separated_by_a_higher_score_is_not_recovered() -> None:
    assert not is_recovered(scores((3, 0), (4, 3), (5, 1)))


def test_no_checkins_is_not_recovered() -> None:
    assert not is_recovered([])


# --- lasting at the first check -----------------------------------------------------------------


def test_first_check_two_weeks_in_with_pain_3_is_lasting() -> None:
    assert lasting_at_first_check(14, 3) == [Finding(Tier.SOON, "lasting_day14")]
    assert lasting_at_first_check(16, 9) == [Finding(Tier.SOON, "lasting_day14")]


@pytest.mark.parametrize(("day", "pain"), [(13, 9), (14, 2), (1, 10), (20, 0)])
def test_first_check_not_lasting(day: int, pain: int) -> None:
    assert lasting_at_first_check(day, pain) == []


# --- property ------------------------------------------------------------------------------------

_histories = st.lists(
    st.builds(
        CheckinScore,
        day=st.integers(min_value=1, max_value=40),
        pain=st.integers(min_value=0, max_value=10),
        daily_activities_ok=st.sampled_from([True, False, None]),
    ),
    max_size=8,
).map(lambda items: sorted(items, key=lambda c: c.day))


@given(
    baseline=st.integers(min_value=0, max_value=10),
    history=_histories,
    already_fired=st.frozensets(st.sampled_from(ALL_RULES)),
)
def test_escalation_never_repeats_a_fired_rule_and_is_only_soon(
    baseline: int, history: list[CheckinScore], already_fired: frozenset[str]
) -> None:
    findings = escalate_if_persisting(baseline, history, already_fired)
    assert all(f.rule not in already_fired for f in findings)
    assert all(f.tier == Tier.SOON for f in findings)
    assert all(f.rule in ALL_RULES for f in findings)
    assert len(rules(findings)) == len(findings)
