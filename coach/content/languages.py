"""The coach's languages: English (the reference), Spanish, German and French.

`load_languages(content_dir)` loads `content/<language>/` for every language present (English is
required), checks each translation against the English content (every text, the same
placeholders, the same source for every piece of advice) and refuses to start, naming the file
and the entry, when one falls short. Each language also says where to get help today in the
terms of each country, and which crisis line to call (`places.yaml`, filled into `{same_day}`
and `{crisis_line}`).

`localised(content, language, country)` is the content a person reads: their language, with
`{same_day}` and `{crisis_line}` for their country (the `default` wording for other countries).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from weakref import WeakKeyDictionary

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from coach.content.checks import ContentError, check_translation
from coach.content.loader import Content, load_content

REFERENCE = "en"
LANGUAGES = ("en", "es", "de", "fr")
# Each language's name in itself: the buttons of /language read the same in every language.
LANGUAGE_NAMES = {"en": "English", "es": "Español", "de": "Deutsch", "fr": "Français"}
DEFAULT_COUNTRY = "default"
PLACES_FILE = "places.yaml"


class _SameDay(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str
    source: str


class _PlacesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    same_day: dict[str, _SameDay]
    crisis_line: dict[str, str]  # a crisis line to call, by country (`{crisis_line}`)


def language_for_code(code: str | None, available: Mapping[str, object] | None = None) -> str:
    """Telegram's `language_code` ("de", "de-AT", "es-419") as one of the coach's languages."""
    base = (code or "").strip().lower().replace("_", "-").split("-")[0]
    if base in LANGUAGES and (available is None or base in available):
        return base
    return REFERENCE


def load_languages(content_dir: Path) -> Content:
    """The English content, with every language present in `content.translations`."""
    english = _load_one(content_dir, REFERENCE)
    loaded = {REFERENCE: english}
    reference = _texts_and_sources(english)
    for language in LANGUAGES[1:]:
        if not (content_dir / language).is_dir():
            continue  # a language the operator left out: its speakers read English
        content = _load_one(content_dir, language)
        path = content_dir / language / "coach.yaml"
        if content.language != language:
            raise ContentError(f"{path}: entry language must be {language!r}")
        check_translation(path, reference, _texts_and_sources(content))
        loaded[language] = content
    for content in loaded.values():
        content.translations = loaded
    return english


def load_language(content_dir: Path, language: str = REFERENCE) -> Content:
    """One language alone, with its places (`{same_day}`, `{crisis_line}` filled in): for tools
    and tests that need no other language."""
    return _load_one(content_dir, language)


def _load_one(content_dir: Path, language: str) -> Content:
    content = load_content(content_dir, language)
    path = content_dir / language / PLACES_FILE
    try:
        parsed = _PlacesFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ContentError(f"content file missing: {path}") from None
    except yaml.YAMLError as exc:
        raise ContentError(f"{path}: not valid YAML ({exc})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ContentError(f"{path}: entry {where}: {first['msg']}") from None
    places = parsed.same_day
    crisis_lines = {country: text.strip() for country, text in parsed.crisis_line.items()}
    for section, entries in (("same_day", places), ("crisis_line", crisis_lines)):
        if DEFAULT_COUNTRY not in entries:
            raise ContentError(f"{path}: entry {section}.{DEFAULT_COUNTRY} is missing")
    for country, line in crisis_lines.items():
        if not line:
            raise ContentError(f"{path}: entry crisis_line.{country} is empty")
    for country, entry in places.items():
        if not entry.text.strip():
            raise ContentError(f"{path}: entry same_day.{country} is empty")
        if entry.source not in content.sources:
            raise ContentError(
                f"{path}: entry same_day.{country} names unknown source {entry.source!r}"
            )
    content.same_day = {country: entry.text.strip() for country, entry in places.items()}
    content.same_day_sources = {country: entry.source for country, entry in places.items()}
    content.crisis_line = crisis_lines
    content.defaults = {
        "same_day": content.same_day[DEFAULT_COUNTRY],
        "crisis_line": crisis_lines[DEFAULT_COUNTRY],
    }
    return content


def _texts_and_sources(content: Content) -> tuple[dict[str, str], dict[str, str]]:
    """Every text and every source of a language, by dotted name (for the cross-check)."""
    texts = content.all_texts()
    texts |= {f"same_day.{c}": text for c, text in content.same_day.items()}
    texts |= {f"crisis_line.{c}": text for c, text in content.crisis_line.items()}
    sources = {f"advice.{k}": s for k, s in content.advice_sources.items()}
    sources |= {f"same_day.{c}": s for c, s in content.same_day_sources.items()}
    for name in texts:
        parts = name.split(".")
        if parts[0] == "rules":
            sources[name] = content.rule_source(parts[1])
        elif parts[0] == "plan":
            sources[name] = content.plan_steps(parts[1])[int(parts[2])].source
    return texts, sources


_views: WeakKeyDictionary[Content, dict[tuple[str, str], Content]] = WeakKeyDictionary()


def localised(content: Content, language: str, country: str | None) -> Content:
    """The content a person reads: their language (English when it is not loaded) with
    `{same_day}` in the terms of their country."""
    chosen = content.translations.get(language, content)
    if not chosen.same_day:
        return chosen  # loaded by `load_content` alone (one language, no places)
    key = country or DEFAULT_COUNTRY
    views = _views.setdefault(chosen, {})
    view = views.get((language, key))
    if view is None:
        view = copy_of(chosen)
        view.defaults = {
            "same_day": chosen.same_day.get(key, chosen.same_day[DEFAULT_COUNTRY]),
            "crisis_line": chosen.crisis_line.get(key, chosen.crisis_line[DEFAULT_COUNTRY]),
        }
        views[(language, key)] = view
    return view


def copy_of(content: Content) -> Content:
    """A shallow copy: the same texts, its own default fields."""
    view = object.__new__(Content)
    view.__dict__.update(content.__dict__)
    return view
