"""The second reader (coach/clinical/understanding/whole_message.py): its scoring is
scikit-learn's, the shipped weights are what training gives today, and what it may decide."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest

from bench import train_whole_message as training
from bench.freetext_report import CORPORA, default_reader, load_cases
from coach.clinical.tiers import Tier
from coach.clinical.understanding import Status
from coach.clinical.understanding.whole_message import WholeMessageModel, char_ngrams

pytest.importorskip("sklearn", reason="scikit-learn (a development dependency) fits the model")


@pytest.fixture(scope="module")
def fitted() -> tuple[Any, int, Any]:
    cases = training.training_cases()
    return training.fit(cases), len(cases), training.fit_own(cases)


def test_scoring_is_scikit_learns_to_the_last_digit(
    fitted: tuple[Any, int, Any], tmp_path: Path
) -> None:
    model, n, own = fitted
    path = tmp_path / "model.json.gz"
    path.write_bytes(training.serialise(training.export(model, n, own, digits=None)))
    mine = WholeMessageModel.load(path)
    assert mine.own is not None
    texts = [c.text for name in CORPORA for c in load_cases(CORPORA[name])][::3]  # all kinds
    texts += ["", "a", "!!", "I", "  spaced   out\n\twords  ", "x" * 4000, "ça va 🙂 très bien"]
    for head, theirs in ((mine, model), (mine.own, own)):
        scores = theirs.decision_function(texts)
        worst = max(abs(head.decision(t) - float(s)) for t, s in zip(texts, scores, strict=True))
        assert worst < 1e-9


def test_the_shipped_model_is_the_one_training_gives_today(fitted: tuple[Any, int, Any]) -> None:
    model, n, own = fitted
    assert training.same_model(training.shipped(), training.export(model, n, own)), (
        "content/en/model/whole_message.json.gz is stale: python -m bench.train_whole_message"
    )
    data = json.loads(gzip.decompress(training.MODEL_PATH.read_bytes()))
    assert data["trained_on"] == n and data["threshold"] == training.THRESHOLD
    assert data["own"]["confirm_below"] == training.OWN_CONFIRM_BELOW


def test_a_model_differing_beyond_the_tolerance_is_not_the_same() -> None:
    shipped = training.shipped()
    changed = json.loads(json.dumps(shipped))
    term, (idf, weight) = next(iter(changed["own"]["blocks"][0]["terms"].items()))
    changed["own"]["blocks"][0]["terms"][term] = [idf, weight * (1 + 1e-9)]
    assert training.same_model(shipped, changed)  # two machines' sums in another order
    changed["own"]["blocks"][0]["terms"][term] = [idf, weight * (1 + 1e-4)]
    assert not training.same_model(shipped, changed)
    del changed["own"]["blocks"][0]["terms"][term]
    assert not training.same_model(shipped, changed)


def test_no_blind_set_is_trained_on_before_its_first_reading_is_on_record() -> None:
    readme = (training.ROOT / "bench" / "README.md").read_text(encoding="utf-8")
    for name in training.TRAINING_SETS:
        if name.startswith("blind"):  # its first-reading row: "| **blind7** (…, first measurement"
            assert re.search(rf"\| \*\*{name}\*\*[ ,]", readme), f"{name}: no first reading"


@pytest.mark.parametrize("word", ["a", "ab", "abc", "abcd", "abcdefgh"])
def test_short_words_give_the_char_wb_terms_of_scikit_learn(word: str) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    analyzer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).build_analyzer()
    assert char_ngrams(word, 2, 5) == analyzer(word)


# ------------------------------------------------------------------ what it may decide

READER = default_reader("en")


@pytest.mark.parametrize(
    "text",
    [
        "things just aren't working right downstairs since the spasm",
        "my wedding tackle is on strike since the back went",
    ],
)
def test_what_the_lexicon_misses_it_reads_as_a_possible_emergency(text: str) -> None:
    reading = READER.read(text)
    assert not reading.mentions  # the lexicon found nothing
    assert reading.possible_emergency and reading.outcome() == "emergency"
    assert reading.possible_words and all(w in text for w in reading.possible_words.split())
    assert reading.top_tier is None  # no sign named: at the emergency question, never an alarm


@pytest.mark.parametrize(
    "text",
    [
        "pain is a 5 today, heat pad is lovely",
        "no accidents, waterworks fine, legs fine",
        "my grandad had a stroke last year",
        "the ice pack helped and i walked to the shop",
    ],
)
def test_ordinary_messages_and_denials_stay_quiet(text: str) -> None:
    assert not READER.read(text).possible_emergency


def test_someone_elses_sign_is_never_read_as_the_persons_own() -> None:
    reading = READER.read("typing for my husband, he hasn't been able to pee since this morning")
    assert any(m.status == Status.OTHER_PERSON for m in reading.mentions)
    assert READER.model is not None
    assert READER.model.probability(reading.mentions[0].words + " since this morning") > 0.5
    assert not reading.possible_emergency and reading.outcome() == "none"


def test_a_question_stays_a_question() -> None:
    reading = READER.read("is it bad if my legs tingle?")
    assert reading.outcome() == "question" and not reading.possible_emergency


def test_an_emergency_sign_the_whole_message_does_not_support_is_doubted() -> None:
    misread = READER.read("the baby peed on me during the nappy change lol, anyway back is a 5")
    assert misread.top_tier == Tier.EMERGENCY and misread.doubted
    meant = READER.read("no wee since breakfast and it feels blocked")
    assert meant.top_tier == Tier.EMERGENCY and not meant.doubted


def test_someone_elses_sign_the_lexicon_misreads_is_confirmed_first_by_the_second_head() -> None:
    text = "a man in my cycling club couldnt pee for a day after a fall"
    reading = READER.read(text)
    assert READER.model is not None and READER.model.own is not None
    # The lexicon's context misses "a man in my cycling club"; the first head is unsure...
    assert reading.top_tier == Tier.EMERGENCY
    assert READER.model.probability(text) >= READER.model.confirm_below
    # ...and the second head reads it as not the person's own: one tap to confirm, no alarm.
    assert READER.model.own.probability(text) < READER.model.own_confirm_below
    assert reading.doubted


@pytest.mark.parametrize(
    "text",
    [
        "yes both legs feel weak and wobbly",
        "yep the wee one, nothing is coming out",
        "i leaked in my sleep and didnt wake",
        "my legs both went dead this morning and it hasnt gone",
    ],
)
def test_a_plain_report_of_the_persons_own_is_not_doubted(text: str) -> None:
    reading = READER.read(text)
    assert reading.top_tier == Tier.EMERGENCY and not reading.doubted


def test_a_model_file_without_the_second_head_still_reads(tmp_path: Path) -> None:
    data = training.shipped()
    del data["own"]
    path = tmp_path / "whole_message.json.gz"
    path.write_bytes(training.serialise(data))
    older = WholeMessageModel.load(path)
    assert older.own is None
    assert not older.doubts_emergency_sign("my legs both went dead this morning")
    assert older.doubts_emergency_sign(
        "the baby peed on me during the nappy change lol, anyway back is a 5"
    )


def test_a_content_copy_without_the_model_still_starts_and_says_so_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import shutil

    from coach.content import load_content
    from coach.content.location import content_root

    copy = tmp_path / "content"
    shutil.copytree(content_root(), copy)
    assert load_content(copy, "en").lexicon.model is not None  # type: ignore[union-attr]
    shutil.rmtree(copy / "en" / "model")
    with caplog.at_level(logging.WARNING):
        lexicon = load_content(copy, "en").lexicon
    assert lexicon is not None and lexicon.model is None
    lines = [r.getMessage() for r in caplog.records if "model" in r.getMessage()]
    assert len(lines) == 1 and "COACH_CONTENT_DIR" in lines[0] and "\n" not in lines[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        load_content(copy, "fr")  # no language but English has a model: nothing to say
    assert not [r for r in caplog.records if "model" in r.getMessage()]


def test_extreme_scores_give_a_probability_not_an_overflow() -> None:
    model = READER.model
    assert model is not None
    far_below = WholeMessageModel(model.blocks, -1e4, 0.6, 0.9, 0.15, 0)
    far_above = WholeMessageModel(model.blocks, 1e4, 0.6, 0.9, 0.15, 0)
    assert far_below.probability("x") == 0.0 and far_above.probability("x") == 1.0


def test_the_coach_reads_with_the_weights_alone_never_importing_scikit_learn() -> None:
    import subprocess
    import sys

    probe = (
        "import sys; from bench.freetext_report import default_reader; "
        "r = default_reader('en'); assert r.model is not None; "
        "r.read('my wedding tackle is on strike since the back went'); "
        "print(sorted(m for m in ('sklearn', 'scipy') if m in sys.modules))"
    )
    root = str(training.ROOT)
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("damage", [b"", b"not gzip at all", "gzip-of-wrong-json"])
def test_a_damaged_model_file_is_one_line_and_the_lexicon_reads_on(
    damage: bytes | str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    path = tmp_path / "whole_message.json.gz"
    data = gzip.compress(b'{"blocks": 3}') if isinstance(damage, str) else damage
    path.write_bytes(data)
    with caplog.at_level(logging.WARNING):
        assert WholeMessageModel.load_or_none(path) is None
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "lexicon alone" in lines[0] and "Traceback" not in caplog.text
    assert WholeMessageModel.load_or_none(training.MODEL_PATH) is not None
