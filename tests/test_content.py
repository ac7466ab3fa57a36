"""Shipped content loads, every piece of advice is sourced, broken content names the entry."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from coach.clinical.tiers import EMERGENCY_SIGNS, HIGH_BACK_LOCATION, URGENT_SIGNS
from coach.content.loader import Content, ContentError, load_content

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"
DOSE = re.compile(
    r"\b\d+(\.\d+)?\s?(mg|milligrams?|mcg|micrograms?|g|grams?|ml|millilitres?|milliliters?"
    r"|tablets?|pills?|capsules?|caplets?)\b",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def content() -> Content:
    return load_content(CONTENT_DIR, "en")


@pytest.fixture(scope="module")
def sources() -> set[str]:
    data = yaml.safe_load((CONTENT_DIR / "sources.yaml").read_text(encoding="utf-8"))
    return set(data["sources"])


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load((CONTENT_DIR / "en" / "coach.yaml").read_text(encoding="utf-8"))


# --- the shipped content ------------------------------------------------------------------------


def test_shipped_content_loads(content: Content) -> None:
    assert content.language == "en"
    assert content.consent_version


def test_every_advice_entry_names_an_existing_source(
    raw: dict[str, Any], sources: set[str]
) -> None:
    assert raw["advice"]
    for key in raw["advice"]:
        assert raw["advice_sources"].get(key) in sources, f"advice.{key}"


def test_every_rule_names_an_existing_source(
    content: Content, raw: dict[str, Any], sources: set[str]
) -> None:
    assert raw["rules"]
    for rule in raw["rules"]:
        assert content.rule_source(rule) in sources, f"rules.{rule}"


@pytest.mark.parametrize("phase", ["ice", "heat", "prevention"])
def test_every_plan_step_names_an_existing_source(
    content: Content, sources: set[str], phase: str
) -> None:
    steps = content.plan_steps(phase)
    assert steps
    for i, step in enumerate(steps):
        assert step.source in sources, f"plan.{phase}.steps.{i}"


def test_every_source_has_a_title_and_an_http_url(content: Content) -> None:
    for name, source in content.sources.items():
        assert source.title.strip(), name
        assert source.url.startswith(("https://", "http://")), name


@pytest.mark.parametrize("sign", EMERGENCY_SIGNS)
def test_every_emergency_sign_has_a_question_option_and_a_reason(
    content: Content, sign: str
) -> None:
    assert sign in dict(content.question("emergency").options)
    assert content.rule_reason(sign).strip()


def test_serious_accident_is_also_a_trigger_option(content: Content) -> None:
    assert "serious_accident" in dict(content.question("trigger").options)


@pytest.mark.parametrize("sign", URGENT_SIGNS)
def test_every_urgent_sign_has_a_question_option_and_a_reason(content: Content, sign: str) -> None:
    assert sign in dict(content.question("urgent").options)
    assert content.rule_reason(sign).strip()


def test_high_back_location_has_an_option_and_a_reason(content: Content) -> None:
    assert HIGH_BACK_LOCATION in dict(content.question("location").options)
    assert content.rule_reason("high_back_pain").strip()


@pytest.mark.parametrize("qid", ["emergency", "urgent", "soon"])
def test_screening_questions_offer_none_of_these_in_one_tap(content: Content, qid: str) -> None:
    assert "none" in dict(content.question(qid).options)


def test_no_text_mentions_a_dose(content: Content) -> None:
    doses = {
        name: m.group(0) for name, text in content.all_texts().items() if (m := DOSE.search(text))
    }
    assert doses == {}


def test_no_dose_anywhere_in_the_content_files() -> None:
    for path in CONTENT_DIR.rglob("*.yaml"):
        assert DOSE.search(path.read_text(encoding="utf-8")) is None, path


def test_dose_pattern_catches_doses() -> None:
    for text in ["take 400mg", "200 mg of ibuprofen", "2 tablets", "5 ml", "1 tablet"]:
        assert DOSE.search(text), text


def test_welcome_says_not_a_diagnosis_and_names_the_emergency_number(content: Content) -> None:
    welcome = content.ui("welcome", number="999")
    assert "not a diagnosis" in welcome
    assert "999" in welcome


def test_emergency_message_says_what_to_do_now_in_the_first_line(content: Content) -> None:
    first_line = content.advice("emergency", number="911", reason="x").splitlines()[0]
    assert "911" in first_line
    assert "now" in first_line.lower()


# --- broken copies --------------------------------------------------------------------------------


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, target)
    return target


def _edit(content_dir: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = content_dir / "en" / "coach.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _error(content_dir: Path) -> str:
    with pytest.raises(ContentError) as caught:
        load_content(content_dir, "en")
    return str(caught.value)


def test_unchanged_copy_loads(copy: Path) -> None:
    _edit(copy, lambda data: None)
    assert load_content(copy, "en").plan_steps("ice")


def test_plan_step_without_source_is_named(copy: Path) -> None:
    _edit(copy, lambda data: data["plan"]["ice"]["steps"][1].pop("source"))
    assert "plan.ice.steps.1" in _error(copy)


def test_plan_step_with_unknown_source_is_named(copy: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["plan"]["heat"]["steps"][2]["source"] = "made_up_blog"

    _edit(copy, change)
    message = _error(copy)
    assert "plan.heat.steps.2" in message
    assert "made_up_blog" in message


def test_source_removed_from_sources_yaml_is_named(copy: Path) -> None:
    path = copy / "sources.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    del data["sources"]["seed_spasms_guide"]  # used only by the first prevention step
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    message = _error(copy)
    assert "plan.prevention.steps.0" in message
    assert "seed_spasms_guide" in message


def test_advice_without_source_is_named(copy: Path) -> None:
    _edit(copy, lambda data: data["advice_sources"].pop("medicines"))
    assert "advice.medicines" in _error(copy)


def test_missing_emergency_option_is_named(copy: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        options = data["questions"]["emergency"]["options"]
        data["questions"]["emergency"]["options"] = [
            o for o in options if o["value"] != "saddle_numbness"
        ]

    _edit(copy, change)
    message = _error(copy)
    assert "questions.emergency" in message
    assert "saddle_numbness" in message


def test_missing_rule_reason_for_an_emergency_sign_is_named(copy: Path) -> None:
    _edit(copy, lambda data: data["rules"].pop("both_legs"))
    assert "rules.both_legs" in _error(copy)


def test_unknown_placeholder_is_named(copy: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["ui"]["welcome"] = data["ui"]["welcome"].replace("{number}", "{nmber}")

    _edit(copy, change)
    message = _error(copy)
    assert "ui.welcome" in message
    assert "nmber" in message


def test_missing_ui_key_is_named(copy: Path) -> None:
    _edit(copy, lambda data: data["ui"].pop("pain_invalid"))
    assert "ui.pain_invalid" in _error(copy)


def test_broken_yaml_names_the_file(copy: Path) -> None:
    path = copy / "en" / "coach.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\nui: [unclosed\n", encoding="utf-8")
    assert "coach.yaml" in _error(copy)


def test_missing_language_file_names_the_file(copy: Path) -> None:
    (copy / "en" / "coach.yaml").unlink()
    assert "coach.yaml" in _error(copy)
