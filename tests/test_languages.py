"""Four languages: every language has every text of the English content (same placeholders, same
sources), broken translations refuse to start naming the file and the entry, and the person's
language and country decide what they read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from coach.content import ContentError, load_content
from coach.content.checks import placeholders
from coach.content.languages import LANGUAGES, language_for_code, load_languages, localised
from coach.content.loader import Content

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"
FREE_OPTIONS = ("questions.timezone.", "questions.checkin_time.")


@pytest.fixture(scope="module")
def english() -> Content:
    return load_languages(CONTENT_DIR)


def _texts(content: Content) -> dict[str, str]:
    texts = content.all_texts() | {f"same_day.{c}": t for c, t in content.same_day.items()}
    texts |= {f"crisis_line.{c}": t for c, t in content.crisis_line.items()}
    return {k: v for k, v in texts.items() if not k.startswith(FREE_OPTIONS)}


def test_all_four_languages_are_shipped_and_loaded(english: Content) -> None:
    assert set(english.translations) == set(LANGUAGES) == {"en", "es", "de", "fr"}
    for code, content in english.translations.items():
        assert content.language == code
        assert content.lexicon is not None and content.lexicon.language == code


@pytest.mark.parametrize("code", ["es", "de", "fr"])
def test_every_language_has_every_key_with_the_english_placeholders(
    english: Content, code: str
) -> None:
    reference, translation = _texts(english), _texts(english.translations[code])
    assert set(translation) == set(reference)
    differing = {
        name
        for name, text in reference.items()
        if placeholders(text) != placeholders(translation[name])
    }
    assert differing == set()


@pytest.mark.parametrize("code", ["es", "de", "fr"])
def test_every_translation_keeps_every_source(english: Content, code: str) -> None:
    content = english.translations[code]
    assert content.advice_sources == english.advice_sources
    assert content.same_day_sources == english.same_day_sources
    for phase in ("ice", "heat", "prevention"):
        assert [s.source for s in content.plan_steps(phase)] == [
            s.source for s in english.plan_steps(phase)
        ]
    rules = [k.split(".")[1] for k in english.all_texts() if k.startswith("rules.")]
    assert [content.rule_source(r) for r in rules] == [english.rule_source(r) for r in rules]


@pytest.mark.parametrize("code", ["es", "de", "fr"])
def test_translations_are_not_left_in_english(english: Content, code: str) -> None:
    reference, translation = _texts(english), _texts(english.translations[code])
    # Short labels may match ("OK", "Sex"); whole sentences may not.
    same = [k for k, v in reference.items() if len(v) > 25 and translation[k] == v]
    assert same == []


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("de", "de"),
        ("de-AT", "de"),
        ("es-419", "es"),
        ("fr-CA", "fr"),
        ("FR", "fr"),
        ("en-GB", "en"),
        ("pt-BR", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_telegram_language_code_chooses_the_language(code: str | None, language: str) -> None:
    assert language_for_code(code) == language


@pytest.mark.parametrize(
    ("language", "country", "expected"),
    [
        ("de", "DE", "116117"),
        ("en", "DE", "116117"),
        ("en", "GB", "111"),
        ("fr", "FR", "116 117"),
        ("es", "ES", "centro de salud"),
        ("de", "AT", "1450"),
        ("en", "JP", "same-day appointment with a doctor"),
    ],
)
def test_same_day_help_is_said_in_the_terms_of_the_country(
    english: Content, language: str, country: str, expected: str
) -> None:
    advice = localised(english, language, country).advice(
        "urgent", reason="r", summary="s", number="112"
    )
    assert expected in advice


@pytest.mark.parametrize(
    ("language", "country", "expected"),
    [
        ("de", "DE", "TelefonSeelsorge unter 0800 111 0 111"),
        ("de", "AT", "Telefonseelsorge unter 142"),
        ("fr", "FR", "le 3114"),
        ("es", "ES", "Línea 024"),
        ("en", "GB", "Samaritans on 116 123"),
        ("en", "US", "988"),
        ("es", "MX", "una línea de ayuda en crisis de tu país"),
    ],
)
def test_crisis_support_names_the_crisis_line_of_the_country(
    english: Content, language: str, country: str, expected: str
) -> None:
    assert expected in localised(english, language, country).advice("crisis", number="112")


def test_a_language_missing_from_the_content_folder_falls_back_to_english(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, folder, ignore=shutil.ignore_patterns("fr", "es"))
    content = load_languages(folder)
    assert set(content.translations) == {"en", "de"}
    assert localised(content, "fr", "FR").language == "en"


# --- broken translations refuse to start, naming the file and the entry --------------------------


def _broken(tmp_path: Path, language: str, edit: object) -> Path:
    folder = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, folder)
    path = folder / language / "coach.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert callable(edit)
    edit(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return folder


def test_a_missing_key_names_the_language_file_and_the_key(tmp_path: Path) -> None:
    folder = _broken(tmp_path, "de", lambda d: d["ui"].pop("language_set"))
    with pytest.raises(ContentError) as error:
        load_languages(folder)
    message = str(error.value)
    assert "de/coach.yaml" in message and "ui.language_set" in message
    assert "\n" not in message


def test_a_changed_placeholder_is_refused(tmp_path: Path) -> None:
    def edit(data: dict[str, dict[str, str]]) -> None:
        data["ui"]["timezone_set"] = "Zeitzone: {zone}."  # {number} dropped

    folder = _broken(tmp_path, "de", edit)
    with pytest.raises(ContentError, match=r"de/coach.yaml: entry ui.timezone_set: placeholder"):
        load_languages(folder)


def test_a_missing_or_changed_source_is_refused(tmp_path: Path) -> None:
    folder = _broken(tmp_path, "fr", lambda d: d["advice_sources"].pop("medicines"))
    with pytest.raises(ContentError, match=r"fr/coach.yaml: entry advice.medicines has no source"):
        load_languages(folder)

    def edit(data: dict[str, dict[str, dict[str, str]]]) -> None:
        data["rules"]["both_legs"]["source"] = "spine_health"

    folder = _broken(tmp_path / "second", "es", edit)
    with pytest.raises(ContentError, match=r"es/coach.yaml: entry rules.both_legs names source"):
        load_languages(folder)


def test_a_country_missing_from_a_language_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, folder)
    path = folder / "es" / "places.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["same_day"].pop("DE")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ContentError, match=r"es/places.yaml: entry same_day.DE is missing"):
        load_languages(folder)


def test_one_language_alone_still_loads_for_tools_and_tests() -> None:
    content = load_content(CONTENT_DIR, "de")
    assert content.language == "de"
    assert "Guten Morgen" in content.ui("morning_header", day=2)
    # The places' wording is there too: no text is left with an empty placeholder.
    assert "Notfallpraxis" in content.advice("urgent", reason="r", summary="s", number="112")
    assert "Krisen" in content.advice("crisis", number="112")
