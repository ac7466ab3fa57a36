"""Triage of symptom-check and check-in answers. Most urgent wins; never down-triaged.

Typed text is read by `coach.clinical.understanding`, which names the signs these rules take.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from coach.clinical.tiers import (
    EMERGENCY_SIGNS,
    FIRST_EVER_OVER_50,
    HIGH_BACK_LOCATION,
    SERIOUS_ACCIDENT_TRIGGER,
    SOON_SIGNS,
    URGENT_SIGNS,
    Finding,
    Tier,
)


def triage_answers(answers: Mapping[str, str]) -> list[Finding]:
    """Every rule that fires on the answers given so far, most urgent first.

    Answer keys are question ids of the symptom check or a check-in: `emergency`, `location`,
    `trigger`, `urgent`, `soon`, `age`. Unknown keys are ignored; missing keys fire nothing.
    """
    findings: list[Finding] = []
    emergency = answers.get("emergency")
    if emergency in EMERGENCY_SIGNS:
        findings.append(Finding(Tier.EMERGENCY, emergency))
    if answers.get("trigger") == SERIOUS_ACCIDENT_TRIGGER:
        findings.append(Finding(Tier.EMERGENCY, SERIOUS_ACCIDENT_TRIGGER))
    urgent = answers.get("urgent")
    if urgent in URGENT_SIGNS or urgent == "high_back_pain":
        findings.append(Finding(Tier.URGENT, urgent))
    if answers.get("location") == HIGH_BACK_LOCATION:
        findings.append(Finding(Tier.URGENT, "high_back_pain"))
    soon = answers.get("soon")
    if soon in SOON_SIGNS:
        findings.append(Finding(Tier.SOON, soon))
    elif soon == "both":
        findings.extend(Finding(Tier.SOON, sign) for sign in SOON_SIGNS)
    if answers.get("age") == FIRST_EVER_OVER_50:
        findings.append(Finding(Tier.SOON, "first_back_pain_over_50"))
    return sorted(dict.fromkeys(findings), key=lambda f: -f.tier)


def most_urgent(findings: Iterable[Finding], floor: Tier = Tier.SELF) -> Tier:
    """The tier to act on: the most urgent finding, never below `floor` (the episode's standing
    tier), so later reassuring answers cannot down-triage."""
    return max([floor, *(f.tier for f in findings)])
