"""The reader in Spanish, German and French: every EMERGENCY sign typed in that language (with
slang and euphemisms) is recognised, and denials, someone else's and past mentions are not
alarms. Messages: tests/corpus/lang/<language>.yaml (format of tests/corpus/dev)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from coach.clinical.tiers import EMERGENCY_SIGNS
from coach.clinical.understanding import Reader, reader_for
from coach.content.languages import load_languages

CORPUS = Path(__file__).resolve().parent / "corpus" / "lang"
CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"
LANGUAGES = ("es", "de", "fr")


def _messages(language: str) -> list[dict[str, Any]]:
    data = yaml.safe_load((CORPUS / f"{language}.yaml").read_text(encoding="utf-8"))
    return list(data["messages"])


@pytest.fixture(scope="module")
def readers() -> dict[str, Reader]:
    content = load_languages(CONTENT_DIR)
    readers = {}
    for language in LANGUAGES:
        lexicon = content.translations[language].lexicon
        assert lexicon is not None
        readers[language] = reader_for(lexicon)
    return readers


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_emergency_sign_is_in_the_corpus(language: str) -> None:
    reported = {
        sign for m in _messages(language) if m["expect"] == "emergency" for sign in m["signs"]
    }
    assert reported == set(EMERGENCY_SIGNS)
    assert any(m["kind"] == "denial" for m in _messages(language))


@pytest.mark.parametrize(
    ("language", "message"),
    [(lang, m) for lang in LANGUAGES for m in _messages(lang)],
    ids=lambda v: v if isinstance(v, str) else v["text"][:40],
)
def test_typed_message_is_read_as_expected(
    readers: dict[str, Reader], language: str, message: dict[str, Any]
) -> None:
    reading = readers[language].read(message["text"])
    assert reading.outcome() == message["expect"]
    if message["expect"] in ("emergency", "urgent", "soon"):
        assert set(message["signs"]) <= {m.sign for m in reading.present}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_reader_uses_the_tokenizer_of_its_language(
    readers: dict[str, Reader], language: str
) -> None:
    assert readers[language].nlp.lang == language


# Blind sets in each language that were measured once and then used to widen its lexicon
# (figures in bench/README.md section 6): what was gained must not be lost. Every emergency
# report is still recognised, and no denial, someone else's sign or past event alarms.
USED_BLIND = [
    f"{round_}-{language}" for language in LANGUAGES for round_ in ("blind", "blind2", "blind3")
]


@pytest.mark.parametrize("name", USED_BLIND)
def test_used_blind_sets_keep_every_emergency_and_raise_no_alarm(name: str) -> None:
    from bench.freetext_report import CORPORA, default_reader, language_of, load_cases, score

    if not CORPORA[name].exists():
        pytest.skip(f"no corpus at {CORPORA[name]}")
    report = score(name, load_cases(CORPORA[name]), default_reader(language_of(name)))
    listed = "\n".join(s.describe() for s in report.missed_emergencies + report.false_alarms)
    assert not report.missed_emergencies and not report.false_alarms, f"{name}:\n{listed}"
