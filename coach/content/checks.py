"""What the loader checks beyond each file's shape: the questions' options, and every language
against the English one (same keys, same placeholders, same sources).

Each failure is one line naming the file and the entry, as for the rest of the content.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TELEGRAM_BUTTON_LIMIT = 64
# Texts of /language (required in every language, beside the loader's own list).
LANGUAGE_UI = ["btn_change_language", "language_question", "language_set"]
# Questions whose options each language chooses itself (its own time zones, its own times).
FREE_OPTIONS = ("timezone", "checkin_time")


class ContentError(Exception):
    """Content that cannot be used; the message names the file and entry."""


def check_questions(
    path: Path, questions: Mapping[str, Any], required: Mapping[str, tuple[str, ...]]
) -> None:
    """Every question the clinical core asks has exactly its option values, each labelled."""
    for qid, values in required.items():
        question = questions[qid]
        have = [o.value for o in question.options]
        for value in values:
            if value not in have:
                raise ContentError(f"{path}: entry questions.{qid} lacks option {value!r}")
        extra = set(have) - set(values)
        if qid not in FREE_OPTIONS and extra:
            raise ContentError(
                f"{path}: entry questions.{qid} has unknown option {sorted(extra)[0]!r}"
            )
        for option in question.options:
            if not option.label.strip() or len(option.label) > TELEGRAM_BUTTON_LIMIT:
                raise ContentError(
                    f"{path}: entry questions.{qid}.{option.value}: label must be 1-64 characters"
                )


def placeholders(text: str) -> frozenset[str]:
    return frozenset(f for _, f, _, _ in string.Formatter().parse(text) if f is not None)


def _comparable(name: str) -> bool:
    """Entries every language must have: all but the options of the free questions."""
    return not any(name.startswith(f"questions.{qid}.") for qid in FREE_OPTIONS)


def check_translation(
    path: Path,
    reference: tuple[Mapping[str, str], Mapping[str, str]],
    translation: tuple[Mapping[str, str], Mapping[str, str]],
) -> None:
    """A translation has every text of the English content, with the same placeholders, and
    names the same source for every piece of advice ((texts, sources) by dotted name)."""
    texts, sources = reference
    own_texts, own_sources = translation
    for name, text in texts.items():
        if not _comparable(name):
            continue
        if name not in own_texts:
            raise ContentError(f"{_file(path, name)}: entry {name} is missing (the English has it)")
        if not own_texts[name].strip():
            raise ContentError(f"{_file(path, name)}: entry {name} is empty")
        wanted, have = placeholders(text), placeholders(own_texts[name])
        if wanted != have:
            differ = sorted(wanted ^ have)[0]
            raise ContentError(
                f"{_file(path, name)}: entry {name}: placeholder {{{differ}}} differs from English"
            )
    for name in own_texts:
        if _comparable(name) and name not in texts:
            raise ContentError(f"{_file(path, name)}: entry {name} is not in the English content")
    for name, source in sources.items():
        if name not in own_sources:
            raise ContentError(
                f"{_file(path, name)}: entry {name} has no source (the English names {source!r})"
            )
        if own_sources[name] != source:
            raise ContentError(
                f"{_file(path, name)}: entry {name} names source {own_sources[name]!r}, "
                f"the English content {source!r}: keep the same source"
            )


def _file(path: Path, name: str) -> Path:
    """The file an entry lives in: the places' services and lines have their own (places.yaml)."""
    return path.with_name("places.yaml") if name.startswith(("same_day.", "crisis_line.")) else path
