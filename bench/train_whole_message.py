"""Train the second reader (coach/clinical/understanding/whole_message.py) from the corpora.

    python -m bench.train_whole_message            # write content/en/model/whole_message.json.gz
    python -m bench.train_whole_message --check    # exit 1 if the shipped model is not today's

scikit-learn fits it (a development dependency); the coach only reads the exported weights. The
training sets are the English corpora that have been measured: a blind set joins them only after
its first reading is recorded in bench/README.md, so that a fresh blind set still measures the
whole coach. Training is deterministic on one machine (same data, same pinned versions, same
model); two machines agree to about 1e-8, so `--check` compares with a tolerance.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Sequence
from typing import Any

from bench.freetext_report import CORPORA, ROOT, Case, load_cases

MODEL_PATH = ROOT / "content" / "en" / "model" / "whole_message.json.gz"

# Every English set whose first reading is on record in bench/README.md: a new blind set joins
# only after it has been measured once (tests/test_whole_message.py checks this).
TRAINING_SETS = ("dev", "heldout", *(f"blind{n}" for n in ("", *range(2, 30))))

# Chosen by a leave-one-blind-set-out measure over the thirteen blind sets (bench/README.md §6):
# C and the n-gram ranges changed recall by under half a point; the thresholds trade recall
# against screening questions on sign-free messages (0.6: 98.6 % recall and 7.0 % questions,
# with 0.9 where the lexicon reader found only denied, someone else's or past signs).
C = 10.0
WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (2, 5)
MIN_DF = 2
THRESHOLD = 0.6
THRESHOLD_SET_ASIDE = 0.9
# Below this, an emergency sign the lexicon found is confirmed with one tap before it is taken
# as the answer at the emergency question: in the leave-one-out measure, 21 of 38 alarms from
# denials, others and the past were below it, and 6 of 1,870 emergencies the lexicon found.
CONFIRM_BELOW = 0.15
DIGITS = 9  # significant digits kept in the shipped file

# The second head, "whose sign, and when": typed emergencies against denials, someone else's
# signs and past mentions. Word 1-3-grams ("my dad can't", "when i was") and the same
# characters. An emergency sign the lexicon found is confirmed with one tap first below 0.5,
# chosen by a leave-one-blind-set-out measure over 23 sets (bench.second_reader_loso): alarms
# from 68 (the lexicon alone) to 5 of 1,636, a second tap for 1.1 % of typed emergencies
# (0.4: 8 alarms, 0.7 %; 0.6: 4 alarms, 1.6 %).
OWN_WORD_NGRAMS = (1, 3)
OWN_CONFIRM_BELOW = 0.5
SET_ASIDE_KINDS = ("denial", "other_person", "past")
# Two fits on different machines agree to about 1e-8 (floating-point sums in another order), so
# the shipped weights are compared with today's training to this relative tolerance.
TOLERANCE = 1e-6


def training_cases(sets: Sequence[str] = TRAINING_SETS) -> list[Case]:
    """Every message of the sets, except carers' (someone else's signs are set aside)."""
    cases: list[Case] = []
    for name in sets:
        cases.extend(c for c in load_cases(CORPORA[name]) if c.kind != "proxy")
    return cases


def _pipeline(word_ngrams: tuple[int, int]) -> Any:
    """TF-IDF word and character n-grams, then logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(analyzer="word", ngram_range=word_ngrams, min_df=MIN_DF, sublinear_tf=True),
        TfidfVectorizer(
            analyzer="char_wb", ngram_range=CHAR_NGRAMS, min_df=MIN_DF, sublinear_tf=True
        ),
    )
    return make_pipeline(features, LogisticRegression(C=C, class_weight="balanced", max_iter=5000))


def fit(cases: Sequence[Case]) -> Any:
    """Learns whether a message reports an emergency sign of the writer's own."""
    model = _pipeline(WORD_NGRAMS)
    return model.fit([c.text for c in cases], [c.expect == "emergency" for c in cases])


def own_cases(cases: Sequence[Case]) -> list[Case]:
    """The second head's messages: typed emergencies, denials, others' signs, the past."""
    return [
        c
        for c in cases
        if c.expect == "emergency" or (c.expect == "none" and c.kind in SET_ASIDE_KINDS)
    ]


def fit_own(cases: Sequence[Case]) -> Any:
    """The second head: of messages that speak of signs, the writer's own now or not."""
    rows = own_cases(cases)
    model = _pipeline(OWN_WORD_NGRAMS)
    return model.fit([c.text for c in rows], [c.expect == "emergency" for c in rows])


def export(
    model: Any, trained_on: int, own: Any = None, *, digits: int | None = DIGITS
) -> dict[str, Any]:
    """The fitted weights as plain data: per vectoriser, term -> [idf, coefficient]."""
    data = {
        "what": "possible emergency sign in a typed message (bench/train_whole_message.py)",
        "trained_on": trained_on,
        "threshold": THRESHOLD,
        "threshold_set_aside": THRESHOLD_SET_ASIDE,
        "confirm_below": CONFIRM_BELOW,
        **_weights(model, digits),
    }
    if own is not None:
        data["own"] = {
            "what": "the writer's own emergency sign now, not denied, someone else's or past",
            "confirm_below": OWN_CONFIRM_BELOW,
            **_weights(own, digits),
        }
    return data


def _weights(model: Any, digits: int | None) -> dict[str, Any]:
    def keep(x: float) -> float:
        return float(f"{x:.{digits}g}") if digits else float(x)

    union, regression = model.steps[0][1], model.steps[1][1]
    coef = regression.coef_[0]
    blocks, offset = [], 0
    for _, vectorizer in union.transformer_list:
        vocabulary = vectorizer.vocabulary_
        idf = vectorizer.idf_
        terms = {
            term: [keep(idf[i]), keep(coef[offset + i])] for term, i in sorted(vocabulary.items())
        }
        blocks.append(
            {
                "analyzer": vectorizer.analyzer,
                "ngram_range": list(vectorizer.ngram_range),
                "terms": terms,
            }
        )
        offset += len(vocabulary)
    return {"intercept": keep(regression.intercept_[0]), "blocks": blocks}


def same_model(a: Any, b: Any, tolerance: float = TOLERANCE) -> bool:
    """The same exported model: equal structure, numbers equal to a relative tolerance."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_model(a[k], b[k], tolerance) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        pairs = zip(a, b, strict=True) if len(a) == len(b) else None
        return pairs is not None and all(same_model(x, y, tolerance) for x, y in pairs)
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= tolerance * max(abs(a), abs(b), 1e-3)
    return bool(a == b)


def serialise(data: dict[str, Any]) -> bytes:
    # mtime=0: the same model gives the same bytes.
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def trained() -> dict[str, Any]:
    cases = training_cases()
    return export(fit(cases), len(cases), fit_own(cases))


def shipped() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(gzip.decompress(MODEL_PATH.read_bytes()))
    return data


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped model")
    args = parser.parse_args(argv)
    data = trained()
    if args.check:
        same = MODEL_PATH.exists() and same_model(shipped(), data)
        print("shipped model is up to date" if same else "shipped model differs: retrain")
        return 0 if same else 1
    MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
    written = serialise(data)
    MODEL_PATH.write_bytes(written)
    print(f"wrote {MODEL_PATH.relative_to(ROOT)} ({len(written) / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
