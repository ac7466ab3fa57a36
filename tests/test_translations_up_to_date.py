"""Translations follow the English texts: when an English text is rewritten under the same key,
the Spanish, German and French ones must be looked at again (start-up only checks that every key,
placeholder and source is there, not that the meaning still matches).

tests/translations/english.yaml holds a fingerprint of each English text as it was when the
translations were last brought up to date. After updating content/es, de and fr, record the new
English texts with:

    .venv/bin/python -m tests.test_translations_up_to_date
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from coach.content.languages import load_languages
from coach.content.loader import Content

ROOT = Path(__file__).resolve().parent.parent
FINGERPRINTS = Path(__file__).resolve().parent / "translations" / "english.yaml"
HEADER = (
    "# A fingerprint of each English text as it was when content/es, de and fr were last brought\n"
    "# up to date (tests/test_translations_up_to_date.py says how to refresh it).\n"
)


def _english_texts() -> dict[str, str]:
    english: Content = load_languages(ROOT / "content")
    texts = english.all_texts()
    texts |= {f"same_day.{c}": t for c, t in english.same_day.items()}
    texts |= {f"crisis_line.{c}": t for c, t in english.crisis_line.items()}
    return texts


def _fingerprint(text: str) -> str:
    return hashlib.sha1(" ".join(text.split()).encode("utf-8")).hexdigest()[:12]


def test_every_english_text_was_translated_as_it_reads_now() -> None:
    recorded = yaml.safe_load(FINGERPRINTS.read_text(encoding="utf-8"))
    changed = sorted(
        key
        for key, text in _english_texts().items()
        if key in recorded and recorded[key] != _fingerprint(text)
    )
    assert changed == [], (
        f"English texts rewritten since the translations were updated: {', '.join(changed)}. "
        "Update them in content/es, content/de and content/fr, then run "
        ".venv/bin/python -m tests.test_translations_up_to_date"
    )


def _record() -> None:
    fingerprints = {key: _fingerprint(text) for key, text in sorted(_english_texts().items())}
    body = yaml.safe_dump(fingerprints, allow_unicode=True, sort_keys=True, width=200)
    FINGERPRINTS.write_text(HEADER + body, encoding="utf-8")
    print(f"recorded {len(fingerprints)} English texts in {FINGERPRINTS.relative_to(ROOT)}")


if __name__ == "__main__":
    _record()
