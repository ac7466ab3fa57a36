"""Triage vignettes (tests/vignettes/vignettes.yaml) played through the real bot.

Every vignette runs through the real python-telegram-bot Application against the Bot API stand-in,
on its own SQLite file and manual clock; the most urgent advice the bot gave is scored against the
tier a clinician would give (CLINICAL.md). A missed emergency or an under-triaged urgent case fails;
everything else (over-triage, SOON/SELF misses) is reported. Run with `-s` to see the report;
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


def test_the_report_totals_match_the_file(report: Report) -> None:
    in_file = Counter(v.expected for v in load_vignettes(VIGNETTES_FILE))
    assert report.total == sum(in_file.values()) == len(VIGNETTES)
    assert [r.vignette.id for r in report.results] == [v.id for v in VIGNETTES]
    assert report.expected_counts() == in_file
    confusion = report.confusion()
    for tier in TIERS:
        assert sum(confusion[tier].values()) == in_file[tier]
    verdicts = Counter(r.verdict for r in report.results)
    assert sum(verdicts.values()) == report.total
    assert verdicts["under"] + verdicts["over"] + verdicts["correct"] == report.total


def test_no_emergency_is_missed(report: Report) -> None:
    missed = [
        f"{r.vignette.id}: given {r.given.name} ({'; '.join(r.notes) or r.vignette.summary})"
        for r in report.missed_emergencies
    ]
    assert not missed, "missed emergencies:\n" + "\n".join(missed)


def test_no_urgent_case_is_under_triaged(report: Report) -> None:
    missed = [
        f"{r.vignette.id}: given {r.given.name} ({'; '.join(r.notes) or r.vignette.summary})"
        for r in report.under_triaged_urgent
    ]
    assert not missed, "under-triaged urgent cases:\n" + "\n".join(missed)


def test_every_script_was_played_unless_the_bot_stopped_coaching(report: Report) -> None:
    """A script that stalls before the bot halted the plan would make its score meaningless."""
    problems = [f"{r.vignette.id}: {r.stalled}" for r in report.script_problems]
    assert not problems, "\n".join(problems)


def test_the_advice_texts_agree_with_the_episode_tier(report: Report) -> None:
    """Cross-check: the tier read from the messages is the `episode.tier` stored in the DB."""
    mismatches = [
        f"{r.vignette.id}: texts {r.given.name}, episode.tier "
        f"{r.db_tier.name if r.db_tier is not None else None}"
        for r in report.db_mismatches
    ]
    assert not mismatches, "\n".join(mismatches)
