"""Triage vignettes (tests/vignettes/vignettes.yaml) played through the real bot.

Every vignette runs through the real python-telegram-bot Application against the Bot API stand-in,
on its own SQLite file and manual clock; the most urgent advice the bot gave is scored against the
tier a clinician would give (CLINICAL.md). These fail: a missed emergency, an under-triaged urgent
case, a tier whose sensitivity falls below its floor (`SENSITIVITY_FLOOR`), SELF cases sent to a
doctor beyond `MAX_SELF_SENT_TO_A_DOCTOR` (or to the emergency number at all), a vignette without
any advice (verdict `none`, never counted as SELF), a vignette not played exactly once, and advice
texts that disagree with the stored `episode.tier`. Run with `-s` to see the report;
`python -m bench.triage_report` prints the same report on its own.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
import yaml

from coach.clinical.tiers import Tier
from tests.vignettes.runner import (
    CONTENT_FILE,
    TIERS,
    VIGNETTES_FILE,
    Report,
    Vignette,
    VignetteResult,
    load_vignettes,
    run_report,
)

VIGNETTES = load_vignettes()


@pytest.fixture(scope="module")
def report() -> Report:
    # A loop of its own: the vignettes run once for every test of this module.
    loop = asyncio.new_event_loop()
    try:
        result = loop.run_until_complete(run_report(VIGNETTES))
    finally:
        loop.close()
    print("\n" + result.render())
    return result


def _answers(vignettes: list[Vignette]) -> list[str]:
    """Every button label a script names (taps, screening answers, check and check-in answers)."""
    found: list[str] = []
    for vignette in vignettes:
        for step in vignette.script:
            for key in ("tap", "screen"):
                if key in step:
                    found.append(str(step[key]))
            for key in ("check", "checkin"):
                if isinstance(step.get(key), dict):
                    found.extend(str(v) for k, v in step[key].items() if k != "upto")
    return found


def _labels(qid: str) -> dict[str, str]:
    content = yaml.safe_load(Path(CONTENT_FILE).read_text(encoding="utf-8"))
    return {str(o["value"]): str(o["label"]) for o in content["questions"][qid]["options"]}


def test_the_vignette_file_covers_every_tier_persona_and_trigger() -> None:
    assert len(VIGNETTES) >= 80
    assert {v.expected for v in VIGNETTES} == set(TIERS)
    assert {v.persona for v in VIGNETTES} == {"plain", "plays_down", "anxious"}
    by_tier = {tier: _answers([v for v in VIGNETTES if v.expected == tier]) for tier in TIERS}
    wanted = {
        Tier.EMERGENCY: [label for value, label in _labels("emergency").items() if value != "none"]
        + [_labels("trigger")["serious_accident"]],
        Tier.URGENT: [label for value, label in _labels("urgent").items() if value != "none"]
        + [_labels("location")["between_shoulders"]],
        Tier.SOON: [
            _labels("soon")["one_leg_numb"],
            _labels("soon")["low_mood"],
            _labels("age")["over50_first"],
            _labels("activities")["no"],
        ],
    }
    for tier, labels in wanted.items():
        for label in labels:
            named = [a for a in by_tier[tier] if len(a) > 3 and a in label]
            assert named, f"no {tier.name} vignette answers {label!r}"


# The least share of each tier's vignettes that must reach advice at least that urgent. SELF's
# "sensitivity" is simply that the person was given advice at all. CLINICAL.md: zero missed
# emergencies; an under-triaged URGENT case is a safety failure too; a SOON case told only to keep
# self-caring is a miss we tolerate once in ten at most.
SENSITIVITY_FLOOR = {Tier.EMERGENCY: 1.0, Tier.URGENT: 1.0, Tier.SOON: 0.9, Tier.SELF: 1.0}
# Over-caution is a cost (CLINICAL.md): of the SELF vignettes, at most this share may be sent to a
# doctor at all (SOON or more), and none may be told to call the emergency number.
MAX_SELF_SENT_TO_A_DOCTOR = 0.10


def test_every_vignette_was_played_exactly_once(report: Report) -> None:
    played = Counter(r.vignette.id for r in report.results)
    in_file = {v.id: v for v in load_vignettes(VIGNETTES_FILE)}
    twice = sorted(vid for vid, n in played.items() if n > 1)
    missing = sorted(set(in_file) - set(played))
    unknown = sorted(set(played) - set(in_file))
    assert not (twice or missing or unknown), f"twice {twice}, never {missing}, unknown {unknown}"
    assert [r.vignette.id for r in report.results] == list(in_file)  # in file order
    changed = [r.vignette.id for r in report.results if r.vignette != in_file[r.vignette.id]]
    assert not changed, f"played a different script or tier than the file has: {changed}"


def test_every_vignette_got_advice(report: Report) -> None:
    """A silent coach (stalled, or the script ended before any advice) is never a SELF answer."""
    silent = [
        f"{r.vignette.id} (expected {r.expected.name}): {r.stalled or 'no advice text sent'}"
        for r in report.without_advice
    ]
    assert not silent, "no advice given at all:\n" + "\n".join(silent)


@pytest.mark.parametrize("tier", TIERS, ids=lambda tier: tier.name)
def test_sensitivity_of_each_tier_reaches_its_floor(report: Report, tier: Tier) -> None:
    hit, n = report.sensitivity(tier)
    assert n > 0, f"no {tier.name} vignette was played"
    missed = [
        f"{r.vignette.id}: given {r.given_name}"
        for r in report.results
        if r.expected == tier and not r.reached(tier)
    ]
    assert hit >= SENSITIVITY_FLOOR[tier] * n, (
        f"{tier.name}: {hit}/{n} reached {tier.name} advice or more, floor "
        f"{SENSITIVITY_FLOOR[tier]:.0%}; missed: {missed}"
    )


def test_self_cases_are_not_over_triaged_beyond_the_bound(report: Report) -> None:
    cases = [r for r in report.results if r.expected == Tier.SELF]
    assert cases
    told_to_call = [r.vignette.id for r in cases if r.reached(Tier.EMERGENCY)]
    assert not told_to_call, f"SELF vignettes told to call the emergency number: {told_to_call}"
    to_a_doctor = [f"{r.vignette.id}: {r.given_name}" for r in cases if r.reached(Tier.SOON)]
    assert len(to_a_doctor) <= MAX_SELF_SENT_TO_A_DOCTOR * len(cases), (
        f"{len(to_a_doctor)}/{len(cases)} SELF vignettes sent to a doctor, bound "
        f"{MAX_SELF_SENT_TO_A_DOCTOR:.0%}: {to_a_doctor}"
    )


def test_no_advice_is_scored_apart_from_self() -> None:
    """The scoring itself: a vignette without any advice is verdict `none`, in its own column."""
    by_tier = {v.expected: v for v in VIGNETTES}
    silent_self = VignetteResult(by_tier[Tier.SELF], given=None, db_tier=Tier.SELF)
    silent_emergency = VignetteResult(by_tier[Tier.EMERGENCY], given=None, db_tier=None)
    right = VignetteResult(by_tier[Tier.SELF], given=Tier.SELF, db_tier=Tier.SELF)
    scored = Report((silent_self, silent_emergency, right))
    assert [r.verdict for r in scored.results] == ["none", "none", "correct"]
    assert scored.without_advice == [silent_self, silent_emergency]
    assert scored.accuracy(Tier.SELF) == (1, 2) and scored.sensitivity(Tier.SELF) == (1, 2)
    assert scored.confusion()[Tier.SELF] == Counter({None: 1, Tier.SELF: 1})
    assert scored.missed_emergencies == [silent_emergency]
    assert not silent_self.db_agrees and not silent_emergency.db_agrees and right.db_agrees
    rendered = scored.render()
    assert "1/3 correct, 0 under-triaged, 0 over-triaged, 2 without any advice" in rendered
    assert "NO ADVICE GIVEN AT ALL" in rendered


def test_no_emergency_is_missed(report: Report) -> None:
    missed = [
        f"{r.vignette.id}: given {r.given_name} ({'; '.join(r.notes) or r.vignette.summary})"
        for r in report.missed_emergencies
    ]
    assert not missed, "missed emergencies:\n" + "\n".join(missed)


def test_no_urgent_case_is_under_triaged(report: Report) -> None:
    missed = [
        f"{r.vignette.id}: given {r.given_name} ({'; '.join(r.notes) or r.vignette.summary})"
        for r in report.under_triaged_urgent
    ]
    assert not missed, "under-triaged urgent cases:\n" + "\n".join(missed)


def test_every_script_was_played_unless_the_bot_stopped_coaching(report: Report) -> None:
    """A script that stalls before the bot halted the plan would make its score meaningless."""
    problems = [f"{r.vignette.id}: {r.stalled}" for r in report.script_problems]
    assert not problems, "\n".join(problems)


def test_the_advice_texts_agree_with_the_episode_tier(report: Report) -> None:
    """Cross-check: the tier read from the messages is the `episode.tier` stored in the DB.

    Every vignette must have left an episode: "no episode" never agrees, not even with no advice.
    """
    mismatches = [
        f"{r.vignette.id}: texts {r.given_name}, episode.tier "
        f"{r.db_tier.name if r.db_tier is not None else 'no episode'}"
        for r in report.db_mismatches
    ]
    assert not mismatches, "\n".join(mismatches)
