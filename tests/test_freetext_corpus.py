"""The free-text corpora (tests/corpus/dev and tests/corpus/heldout) read by the real reader.

Fails on any missed emergency report, on any EMERGENCY taken from a denial, someone else's sign
or the past, and when a corpus falls below the targets of issue 9: emergency recall ≥ 97% with
every emergency sign ≥ 90%, urgent recall ≥ 90%, a screening question on ≤ 10% of the messages
that report no sign. `python -m bench.freetext_report --misses` prints the same figures and lists
every message taken wrong.
"""

from __future__ import annotations

import pytest

from bench.freetext_report import (
    CORPORA,
    EMERGENCY_RECALL_TARGET,
    EMERGENCY_SIGN_TARGET,
    FALSE_QUESTION_TARGET,
    URGENT_RECALL_TARGET,
    CorpusReport,
    default_reader,
    load_cases,
    score,
)
from coach.clinical.tiers import EMERGENCY_SIGNS
from coach.clinical.understanding import Reader

MIN_DEV_MESSAGES = 400


# The regression gate: the corpus written beside the reader and the held-out one (measured blind
# first, then used to fix gaps). tests/corpus/blind is a measurement set only (bench.freetext_report
# --corpus blind, figures in bench/README.md section 6): gating CI on it would mean tuning the
# reader to it, and it would stop measuring anything.
GATED = ("dev", "heldout")


@pytest.fixture(scope="module")
def reader() -> Reader:
    return default_reader()


@pytest.fixture(scope="module", params=GATED)
def report(request: pytest.FixtureRequest, reader: Reader) -> CorpusReport:
    name = str(request.param)
    cases = load_cases(CORPORA[name])
    if not cases:
        pytest.skip(f"no messages in {CORPORA[name]}")
    return score(name, cases, reader)


def _listed(rows: list) -> str:  # type: ignore[type-arg]
    return "\n".join(s.describe() for s in rows)


def test_the_dev_corpus_is_large_and_covers_every_sign() -> None:
    cases = load_cases(CORPORA["dev"])
    assert len(cases) >= MIN_DEV_MESSAGES
    reported = {sign for c in cases if c.expect != "none" for sign in c.signs}
    kinds = {c.kind for c in cases}
    assert set(EMERGENCY_SIGNS) <= reported
    assert {"report", "denial", "other_person", "past", "question", "unrelated", "mixed"} <= kinds


def test_no_emergency_report_is_missed(report: CorpusReport) -> None:
    missed = report.missed_emergencies
    assert not missed, f"{report.name}: missed emergencies:\n{_listed(missed)}"


def test_no_emergency_from_a_denial_someone_else_or_the_past(report: CorpusReport) -> None:
    alarms = report.false_alarms
    assert not alarms, f"{report.name}: EMERGENCY from a set-aside mention:\n{_listed(alarms)}"


def test_recall_reaches_the_targets(report: CorpusReport) -> None:
    hit, n = report.recall("emergency")
    assert n and hit >= EMERGENCY_RECALL_TARGET * n, f"{report.name}: emergency {hit}/{n}"
    table = report.sign_recall()
    for sign in EMERGENCY_SIGNS:
        if sign in table:
            hit, n = table[sign]
            assert hit >= EMERGENCY_SIGN_TARGET * n, f"{report.name}: {sign} {hit}/{n}"
    hit, n = report.recall("urgent")
    assert n and hit >= URGENT_RECALL_TARGET * n, f"{report.name}: urgent {hit}/{n}:\n" + _listed(
        [s for s in report.of("urgent") if not s.reached]
    )


def test_few_sign_free_messages_get_a_screening_question(report: CorpusReport) -> None:
    none = report.of("none")
    asked = report.false_questions
    assert len(asked) <= FALSE_QUESTION_TARGET * len(none), (
        f"{report.name}: {len(asked)}/{len(none)} sign-free messages questioned:\n{_listed(asked)}"
    )


# Blind sets that have been measured once and then used to widen the lexicon (bench/README.md
# section 6): no longer measures, but what was gained on them must not be lost. Each keeps at
# least the emergency reports it reached after its widening, and no more alarms from a denial,
# someone else or the past than it had then (blind7: "fell off the trampoline at like 9", an age
# said like a speed; blind8: "knocked out playing hurling at 17, no lasting damage", said like a
# recent crash). (Languages: tests/test_languages_corpus.py.)
USED_BLIND = {  # name: (emergency reports recognised at least, alarms at most)
    # Floors as read with the second reader trained on every measured set (ae5f425 and after).
    "blind": (108, 0),
    "blind2": (106, 0),
    "blind3": (143, 0),
    "blind4": (133, 0),
    "blind5": (175, 0),
    "blind6": (190, 0),
    "blind7": (185, 1),
    "blind8": (189, 0),
    "blind9": (187, 0),
    "blind10": (179, 0),
    "blind11": (182, 0),
    "blind12": (182, 0),
    "blind13": (181, 0),
    "blind14": (190, 0),
    "blind15": (190, 0),
    "blind16": (195, 0),
    "blind17": (191, 1),
    "blind18": (190, 0),
    "blind19": (187, 0),
    "blind20": (179, 0),
    "blind21": (185, 0),
    "blind22": (184, 0),
    "blind23": (189, 0),
    "blind24": (188, 0),
    "blind25": (169, 0),
    "blind26": (168, 0),
    "blind27": (188, 0),
    "blind28": (166, 0),
    "blind29": (188, 0),
}


@pytest.mark.parametrize("name", sorted(USED_BLIND))
def test_used_blind_sets_keep_what_was_gained(name: str, reader: Reader) -> None:
    cases = load_cases(CORPORA[name])
    if not cases:
        pytest.skip(f"no messages in {CORPORA[name]}")
    report = score(name, cases, reader)
    floor, most_alarms = USED_BLIND[name]
    hit, n = report.recall("emergency")
    assert hit >= floor, f"{name}: emergency {hit}/{n}:\n" + _listed(report.missed_emergencies)
    alarms = report.false_alarms
    assert len(alarms) <= most_alarms, f"{name}: alarms:\n{_listed(alarms)}"
