"""What the reader understood in one message: plain data the coaching journeys act on."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from coach.clinical.tiers import Tier


class Status(StrEnum):
    PRESENT = "present"  # the person has it now
    NEGATED = "negated"  # "no problems with my waterworks"
    OTHER_PERSON = "other_person"  # "my dad had cancer"
    PAST = "past"  # "fell off a horse as a kid", "had tingling but it's gone now"
    ASKED = "asked"  # "is it bad if my legs tingle?"


@dataclass(frozen=True)
class Mention:
    sign: str  # a sign id of coach.clinical.tiers
    tier: Tier
    status: Status
    words: str  # the words of the message that made the reader think of it


@dataclass(frozen=True)
class Reading:
    mentions: tuple[Mention, ...] = ()
    crisis: bool = False
    denies: bool = False  # the message says "no", "not", "none", "… is fine" somewhere
    asks_about_signs: bool = False  # "what are the red flags?", "when should I go to A&E?"
    # No sign found, but the second reader (whole_message.py) reads the message as a possible
    # emergency: a reason to ask the emergency question, never to name a sign or to alarm.
    possible_emergency: bool = False
    possible_words: str = ""  # the words that weighed most in that reading
    # An emergency sign found by the lexicon that the second reader finds very unlikely (often
    # a denial or someone else's sign misread): typed at the emergency question, it is
    # confirmed with one tap rather than taken as the answer.
    doubted: bool = False

    @property
    def present(self) -> list[Mention]:
        """The person's own current signs, most urgent first (one mention per sign)."""
        seen: dict[str, Mention] = {}
        for m in self.mentions:
            if m.status == Status.PRESENT and m.sign not in seen:
                seen[m.sign] = m
        return sorted(seen.values(), key=lambda m: -m.tier)

    @property
    def top_tier(self) -> Tier | None:
        """The most urgent tier among present signs, None when nothing is present."""
        present = self.present
        return present[0].tier if present else None

    @property
    def asked(self) -> list[Mention]:
        """Signs asked about, not reported."""
        return [m for m in self.mentions if m.status == Status.ASKED]

    @property
    def set_aside(self) -> list[Mention]:
        """Signs mentioned as absent, someone else's or in the past."""
        return [
            m
            for m in self.mentions
            if m.status in (Status.NEGATED, Status.OTHER_PERSON, Status.PAST)
        ]

    @property
    def only_denials(self) -> bool:
        """A denial, and every sign mentioned is denied ("no", "no numbness, bladder's fine"):
        at the emergency question, taken as "none of these"."""
        return self.denies and all(m.status == Status.NEGATED for m in self.mentions)

    def outcome(self) -> str:
        """What the coach should do during a plan: emergency, urgent, soon, question or none."""
        top = self.top_tier
        if top is not None:
            return top.name.lower()
        if self.asked or self.asks_about_signs:
            return "question"
        return "emergency" if self.possible_emergency else "none"
