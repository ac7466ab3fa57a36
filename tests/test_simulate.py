"""`coach simulate`: the five example journeys, replayed through the real core."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from coach.simulate import JOURNEYS, simulate_all


@pytest.fixture(scope="module")
def transcripts() -> dict[str, str]:
    import asyncio

    results = asyncio.run(simulate_all())
    return {j.name: "\n".join(t.lines) for j, t in zip(JOURNEYS, results, strict=True)}


def _day_of(transcript: str, marker: str) -> int:
    """The plan day on which `marker` first appears (counting 'Day N' morning headers)."""
    day = 1
    for line in transcript.splitlines():
        found = re.search(r"Day (\d+) of your plan|check-in \(day (\d+)\)", line)
        if found:
            day = int(found.group(1) or found.group(2))
        if marker in line:
            return day
    raise AssertionError(f"{marker!r} never appears")


def test_all_five_journeys_are_replayed(transcripts: dict[str, str]) -> None:
    assert set(transcripts) == {
        "improving",
        "persisting",
        "worsening",
        "emergency_day4",
        "recovery",
    }


def test_persisting_journey_prompts_a_doctor_by_day_3_to_5(transcripts: dict[str, str]) -> None:
    assert 3 <= _day_of(transcripts["persisting"], "Please book a doctor") <= 5


def test_improving_journey_never_prompts_a_doctor(transcripts: dict[str, str]) -> None:
    assert "Please book a doctor" not in transcripts["improving"]
    assert "Call 999" not in transcripts["improving"]


def test_worsening_journey_prompts_a_doctor(transcripts: dict[str, str]) -> None:
    assert "worse than at the start on two check-ins" in transcripts["worsening"]


def test_day4_emergency_answers_that_checkin_and_stops_the_plan(
    transcripts: dict[str, str],
) -> None:
    text = transcripts["emergency_day4"]
    assert _day_of(text, "Call 999 now") == 4
    after = text.split("Call 999 now", 1)[1]
    assert "Good morning" not in after and "Time for your check-in" not in after
    assert text.rstrip().endswith("episode halted_emergency")


def test_recovery_journey_ends_the_episode(transcripts: dict[str, str]) -> None:
    text = transcripts["recovery"]
    assert "looks like recovery" in text
    assert "If a spasm comes back" in text  # the tapered last message
    assert text.rstrip().endswith("episode recovered")


def test_checkins_stay_at_19_00_local_across_the_clock_change(
    transcripts: dict[str, str],
) -> None:
    # The journeys run from 23 March 2026; UK clocks go forward on 29 March.
    stamps = re.findall(
        r"\[(\w{3} \d\d \w{3}) (\d\d:\d\d)\] COACH:\n    Time for your check-in",
        transcripts["improving"],
    )
    days = {day for day, _ in stamps}
    assert {"Sun 29 Mar", "Mon 30 Mar"} <= days
    assert {clock for _, clock in stamps} == {"19:00"}


def test_simulate_command_prints_journeys_without_token_or_network() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "coach", "simulate", "recovery"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "=== Journey: recovery" in result.stdout
    assert "COACH:" in result.stdout and "PERSON taps:" in result.stdout
