"""A pain score (0-10) typed in words or digits: "6", "6/10", "about a six", "it's an 8 today".

Exactly one score must be named; "7 or 8", "-1", "11" and "took 2 tablets, pain 5" are refused
rather than guessed (the person is asked again), so a score is never stored wrongly.
"""

from __future__ import annotations

import re

_WORDS = {
    "zero": 0,
    "nil": 0,
    "none": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
# A number, not part of a larger one, a decimal, a time, a date or a negative.
_NUMBER = re.compile(
    r"(?<![\w.:/-])(-?\d+(?:[.,]\d+)?|"
    + "|".join(_WORDS)
    + r")(?![\w:])(\s*(?:/|out of|of)\s*10\b)?",
    re.IGNORECASE,
)
_MAX_CHARS = 80


def pain_score(text: str) -> int | None:
    """The one score from 0 to 10 the text names, or None when there is none or it is unclear."""
    sample = text.strip().lower()
    if not sample or len(sample) > _MAX_CHARS:
        return None
    values: list[int] = []
    for match in _NUMBER.finditer(sample):
        raw = match.group(1)
        if raw in _WORDS:
            if raw == "none" and not match.group(2):
                continue  # "none" alone is not a score ("none of these")
            values.append(_WORDS[raw])
            continue
        if raw.startswith("-") or "." in raw or "," in raw:
            return None
        values.append(int(raw))
    if len(set(values)) != 1 or not 0 <= values[0] <= 10:
        return None
    return values[0]
