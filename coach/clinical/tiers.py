"""Triage tiers and the red-flag catalogue of CLINICAL.md."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Tier(IntEnum):
    """Ordered so that `max()` gives the most urgent tier."""

    SELF = 0
    SOON = 1
    URGENT = 2
    EMERGENCY = 3


@dataclass(frozen=True)
class Finding:
    """One rule that fired: its tier and a stable rule id (used in content and the decision log)."""

    tier: Tier
    rule: str


# Emergency signs, asked first at the symptom check and again at every daily check-in.
EMERGENCY_SIGNS: tuple[str, ...] = (
    "bladder_retention",  # new difficulty passing urine, or not knowing when the bladder is full
    "incontinence",  # loss of bladder or bowel control, leaking
    "saddle_numbness",  # changed feeling around genitals, anus, buttocks or inner thighs
    "both_legs",  # new pain, numbness or weakness in both legs
    "sexual_dysfunction",  # new sexual dysfunction with the back pain
    "chest_or_breathless",  # chest pain or breathlessness
    "serious_accident",  # pain started after a serious accident
    "belly_pain_faint",  # sudden severe back and belly pain with feeling faint or clammy
)

# Same-day-doctor signs.
URGENT_SIGNS: tuple[str, ...] = (
    "fever",  # fever, high temperature or shivering
    "weight_loss",  # unexplained weight loss
    "cancer_history",  # past or current cancer
    "night_pain",  # constant, worse at night or not eased by rest
    "lump_or_shape",  # a new lump or change in the shape of the back
    "osteoporosis_or_steroids",  # strain or minor fall with osteoporosis or long-term steroids
    "worsening_leg_weakness",  # weakness in a leg or foot that is getting worse
    "immune_unwell",  # weakened immune system or injecting drugs, and feeling unwell
    "cough_sneeze_worse",  # pain clearly worse when coughing, sneezing or straining
)

# Other findings that lead to SOON at the symptom check.
SOON_SIGNS: tuple[str, ...] = ("one_leg_numb", "low_mood")

# Pain high in the back between the shoulders is URGENT; it comes from the "where" question.
HIGH_BACK_LOCATION = "between_shoulders"
SERIOUS_ACCIDENT_TRIGGER = "serious_accident"
FIRST_EVER_OVER_50 = "over50_first"
