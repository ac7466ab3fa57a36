"""Triage of symptom-check and check-in answers. Most urgent wins; never down-triaged."""

from __future__ import annotations

import re
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

NONE = "none"


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


# Free text that sounds like a red flag. A match never decides a tier by itself: it makes the coach
# ask the explicit screening question at once, so a false alarm costs one tap. Constipation alone
# is deliberately absent (common with codeine-type painkillers; CLINICAL.md).
_EMERGENCY_PATTERNS = [
    r"numb\w*\s+(down\s+there|(in|around)\s+(my\s+)?(groin|genitals?|privates|bum|bottom|buttocks?"
    r"|anus|inner\s+thighs?|saddle))",
    r"saddle",
    r"(wet|peed|pissed|soiled|pooed|pooped)\s+(my\s*self|myself|me)",
    r"\b(can'?t|cannot|couldn'?t|unable\s+to|trouble|difficulty|struggling\s+to)\s+"
    r"(pee|wee|urinate|pass\s+(urine|water))",
    r"\bincontinen",
    r"\b(leak(ing|ed|s)?|lost\s+control|no\s+control|can'?t\s+control)\b.{0,30}"
    r"\b(bladder|bowels?|urine|pee|wee|poo)",
    r"\b(bladder|bowels?)\b.{0,30}\b(control|leak|full)",
    r"\bboth\s+(of\s+)?(my\s+|the\s+)?legs\b",
    r"jelly\s+legs|\blegs?\b.{0,30}\bjelly\b",
    r"\b(groin|genitals?|privates|bum|bottom|buttocks?|anus|inner\s+thighs?|down\s+there)\b"
    r".{0,25}\b(numb|tingl\w*|no\s+feeling|feels?\s+(different|strange|odd|weird))",
    r"\b(erection|sexual)\b",
    r"chest\s+pain|pain\s+in\s+(my\s+)?chest",
    r"\b(breathless|can'?t\s+breathe|short(ness)?\s+of\s+breath|struggling\s+to\s+breathe)",
    r"\b(car\s+(crash|accident)|road\s+(collision|accident)|fell\s+(off|from)\s+(a\s+)?"
    r"(ladder|roof|height|scaffold))",
    r"\b(faint|clammy|passing\s+out|passed\s+out|light[-\s]?headed|dizzy)\b",
    r"\b(different|strange|odd|weird|numb|no\s+feeling|can'?t\s+feel)\b.{0,25}\bwip(e|ing)\b",
    r"\bwip(e|ing)\b.{0,25}\b(different|strange|odd|weird|numb|can'?t\s+feel)",
    r"\b(hard|struggl\w*|trouble)\s+to\s+(get\s+)?(my\s+)?(pee|wee|urine)\b"
    r"|\b(pee|wee)\b.{0,15}\b(won'?t|will\s+not|doesn'?t)\s+(come|start|flow)"
    r"|\bcan'?t\s+get\s+(my\s+)?(pee|wee)\s+(going|started)",
    r"\b(came|fell)\s+off\s+(my|a|the)\s+(motor\s*)?(bike|cycle|horse)\b"
    r"|\bmotor\s*(bike|cycle)\s+(crash|accident)|\b(knocked\s+(off|down)|hit\s+by\s+a\s+"
    r"(car|van|bus|lorry|truck))",
]
_URGENT_PATTERNS = [
    r"\b(fever|feverish|temperature|shiver\w*|chills)\b",
    r"\b(weight\s+loss|losing\s+weight|lost\s+(a\s+lot\s+of\s+)?weight)\b"
    r"|\blost\s+(about\s+|around\s+|nearly\s+|almost\s+)?(a|one|two|three|\d+)\s*"
    r"(stone|kg|kilos?|pounds?|lbs?)\b",
    r"\b(cancer|tumou?r|chemo)\b",
    r"\bworse\s+at\s+night\b|\bwakes?\s+me\s+(up\s+)?at\s+night\b",
    r"\blump\b",
    r"\b(osteoporosis|steroids?)\b",
    r"\b(foot\b.{0,25}\bslap\w*|foot\s+drop|can'?t\s+(lift|raise)\s+(the\s+|my\s+)?toes"
    r"|leg\s+(is\s+)?(getting\s+)?weak"
    r"|weak(er|ness)\s+in\s+(my\s+)?(leg|foot))",
    r"\b(inject\w*\s+drugs|immune)\b",
    r"\b(cough\w*|sneez\w*)\b",
]
_EMERGENCY_RE = re.compile("|".join(_EMERGENCY_PATTERNS), re.IGNORECASE)
_URGENT_RE = re.compile("|".join(_URGENT_PATTERNS), re.IGNORECASE)
_CRISIS_RE = re.compile(
    r"\b(suicid\w*|kill\s+myself|end\s+it\s+all|self[-\s]harm|want\s+to\s+die"
    r"|better\s+off\s+dead|(don'?t|do\s+not)\s+want\s+to\s+(live|be\s+alive|go\s+on)"
    r"|end(ing)?\s+my\s+(own\s+)?life|take\s+my\s+(own\s+)?life|no\s+reason\s+to\s+live)",
    re.IGNORECASE,
)


_LOW_MOOD_RE = re.compile(
    r"\b(feel\w*\s+(really\s+|so\s+|very\s+|pretty\s+)?(low|down|depressed|hopeless)"
    r"|not\s+coping|can'?t\s+cope|struggling\s+to\s+cope|depressed)\b",
    re.IGNORECASE,
)


def _normalise(text: str) -> str:
    """Phones send typographic apostrophes ("can’t"); the patterns expect plain ones."""
    return text[:4000].replace("\u2019", "'").replace("\u2018", "'").replace("\u02bc", "'")


def red_flag_in_text(text: str) -> Tier | None:
    """EMERGENCY or URGENT when the text sounds like a sign of that tier, else None."""
    sample = _normalise(text)
    if _EMERGENCY_RE.search(sample):
        return Tier.EMERGENCY
    if _URGENT_RE.search(sample):
        return Tier.URGENT
    return None


def crisis_in_text(text: str) -> bool:
    """Words of despair or self-harm: the coach signposts crisis support at once."""
    return bool(_CRISIS_RE.search(_normalise(text)))


def low_mood_in_text(text: str) -> bool:
    """Feeling low or struggling to cope, said in words: SOON, with mental-health signposting."""
    return bool(_LOW_MOOD_RE.search(_normalise(text)))
