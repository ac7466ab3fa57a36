"""A pain score (0-10) typed in words or digits: "6", "6/10", "about a six", "it's an 8 today",
and in the coach's other languages ("seis", "sechs von 10", "six sur 10").

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
    # Spanish, German and French (articles that are also "one" are left out: "un", "une",
    # "ein", "eine", "una" would make "j'ai une douleur à 6" two scores).
    "cero": 0,
    "uno": 1,
    "dos": 2,
    "tres": 3,
    "cuatro": 4,
    "cinco": 5,
    "seis": 6,
    "siete": 7,
    "ocho": 8,
    "nueve": 9,
    "diez": 10,
    "null": 0,
    "eins": 1,
    "zwei": 2,
    "drei": 3,
    "vier": 4,
    "fünf": 5,
    "sechs": 6,
    "sieben": 7,
    "acht": 8,
    "neun": 9,
    "zehn": 10,
    "zéro": 0,
    "deux": 2,
    "trois": 3,
    "quatre": 4,
    "cinq": 5,
    "sept": 7,
    "huit": 8,
    "neuf": 9,
    "dix": 10,
}
# A number, not part of a larger one, a decimal, a time, a date or a negative.
_NUMBER = re.compile(
    r"(?<![\w.:/-])(-?\d+(?:[.,]\d+)?|"
    + "|".join(_WORDS)
    + r")(?![\w:])(\s*(?:/|out of|of|sur|von|de)\s*10\b)?",
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
