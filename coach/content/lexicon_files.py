"""The reader's lexicon: every file of `content/<language>/lexicon/`, checked at start-up.

Each file names its `source` (an id of sources.yaml), like every piece of advice. A malformed file
stops start-up with one line naming the file and the entry, as for the rest of the content. Only
the words are read here (fast); the spaCy reader is built from them lazily.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path

import yaml

from coach.clinical.understanding import Lexicon, LexiconError, build_lexicon
from coach.content.location import content_root

log = logging.getLogger(__name__)
MODEL_FILE = Path("model") / "whole_message.json.gz"

__all__ = ["FREE_TEXT_UI", "Lexicon", "load_lexicon"]

# libyaml's safe loader when PyYAML has it: the word lists are long, start-up stays short.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Texts of the free-text journey (coach.coaching.journeys.free_text).
FREE_TEXT_UI = [
    "screen_mentioned",
    "screen_confirm",
    "screen_none_taken",
    "screen_unclear",
    "asked_about_signs",
    "set_aside_reply",
    "idle_safety_net",
    "btn_something_new",
    "something_new_intro",
    "possible_intro",
    "checkin_soon",
]


def load_lexicon(folder: Path, sources: Mapping[str, object], language: str = "en") -> Lexicon:
    """The words of one language; `language` also chooses the reader's spaCy tokenizer."""
    from coach.content.checks import ContentError

    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise ContentError(f"{folder}: no lexicon files (the reader needs its words)")
    parsed: list[tuple[str, Mapping[str, object]]] = []
    for path in files:
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
        except yaml.YAMLError as exc:
            raise ContentError(f"{path}: not valid YAML ({exc})") from None
        if not isinstance(data, dict):
            raise ContentError(f"{path}: expected a mapping with source and concepts")
        source = data.get("source")
        if source not in sources:
            raise ContentError(f"{path}: entry source names unknown source {source!r}")
        parsed.append((str(path), data))
    try:
        lexicon = build_lexicon(parsed, language)
    except LexiconError as exc:
        raise ContentError(str(exc)) from None
    # The second reader (coach/clinical/understanding/whole_message.py), where the language has
    # one: `content/<language>/model/whole_message.json.gz`, read when the reader is built.
    model = folder.parent / MODEL_FILE
    if model.is_file():
        return dataclasses.replace(lexicon, model=str(model))
    if (content_root() / language / MODEL_FILE).is_file():
        log.warning(
            "%s is missing: typed %s messages are read by the lexicon alone; copy model/ from "
            "the coach's own content/ into COACH_CONTENT_DIR's %s/ folder",
            model,
            language,
            language,
        )
    return lexicon
