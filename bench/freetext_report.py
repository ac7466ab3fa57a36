"""How well the coach understands what people type: the free-text corpora, scored.

    .venv/bin/python -m bench.freetext_report [--corpus NAME|all] [--misses]

Reads every message of tests/corpus/dev/ and tests/corpus/heldout/ (format: the corpus README in
the brief, one `messages:` list per file) with the real reader built from content/en/lexicon/,
decides what the coach would do during a plan (emergency, urgent or soon question, the answer to
a question, or nothing) and prints, for each corpus apart: recall per sign, emergency recall,
urgent recall, soon recall, how questions are taken, the share of sign-free messages that would
get a screening question (false questions), EMERGENCY alarms from denials, other people and the
past (false alarms), and the time to read a message. `--misses` lists every message taken wrong.

tests/test_freetext_corpus.py checks the same figures against the targets of issue 9.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `coach` importable
    sys.path.insert(0, str(ROOT))

from coach.clinical.tiers import EMERGENCY_SIGNS, SOON_SIGNS, URGENT_SIGNS, Tier  # noqa: E402
from coach.clinical.understanding import Reader, Reading, reader_for  # noqa: E402
from coach.content import load_content  # noqa: E402

LANGUAGES = ("es", "de", "fr")  # besides English
CORPORA = {
    "dev": ROOT / "tests" / "corpus" / "dev",
    "heldout": ROOT / "tests" / "corpus" / "heldout",
    # Written apart from the reader, its lexicons and the two sets above, after the reader was
    # tuned on them: the blind measure (the held-out set was used to fix gaps once measured).
    "blind": ROOT / "tests" / "corpus" / "blind",
    # A second blind set, written after the fixes the first one led to, measured once.
    "blind2": ROOT / "tests" / "corpus" / "blind2",
    # Two more, written apart from each other: blind3 measured first and then used to widen
    # families; blind4 (check-in replies, long and indirect messages) measured last.
    "blind3": ROOT / "tests" / "corpus" / "blind3",
    "blind4": ROOT / "tests" / "corpus" / "blind4",
    # A fifth, in two parts by two writers (non-native and dialect English; carers, replies to
    # the coach, sarcasm, very short messages), written after all the widening above.
    "blind5": ROOT / "tests" / "corpus" / "blind5",
    # A sixth, by two more writers (a broad everyday mix; check-in replies over several days,
    # trades, older people), measured last.
    "blind6": ROOT / "tests" / "corpus" / "blind6",
    # A seventh, by two more writers (ages 16-35 with internet slang, pregnancy and postpartum,
    # queer and trans people's words; ages 50-95 with other conditions, blaming and understating).
    "blind7": ROOT / "tests" / "corpus" / "blind7",
    # An eighth, by two more writers (an everyday mix; check-in replies, change over days,
    # situations), written after all the widening above and measured last.
    "blind8": ROOT / "tests" / "corpus" / "blind8",
    # A ninth (many hard negatives and questions; weakly worded and indirect emergencies).
    "blind9": ROOT / "tests" / "corpus" / "blind9",
    # A tenth (a cross-section of voices; typed in a hurry or in pain), measured last.
    "blind10": ROOT / "tests" / "corpus" / "blind10",
    # An eleventh (people from all walks of life; signs in plain body language, hints).
    "blind11": ROOT / "tests" / "corpus" / "blind11",
    # A twelfth (each sign ten ways; people without words for something new), measured last.
    "blind12": ROOT / "tests" / "corpus" / "blind12",
    # A thirteenth (US and Canadian texting; UK, Irish, Australian and New Zealand), measured last.
    "blind13": ROOT / "tests" / "corpus" / "blind13",
    # Two more, the first measures with the second reader (whole_message.py): older UK and Irish
    # people and young US texters; world Englishes and people who minimise.
    "blind14": ROOT / "tests" / "corpus" / "blind14",
    "blind15": ROOT / "tests" / "corpus" / "blind15",
    # Measured with the second reader retrained on the two above: check-in replies from people
    # with other conditions, metaphors and hints; a varied cross-section, hard negatives.
    "blind16": ROOT / "tests" / "corpus" / "blind16",
    "blind17": ROOT / "tests" / "corpus" / "blind17",
    # Measured with the second reader retrained on blind16-17: hurried phone typing, what people
    # notice and do; life situations, sport and work, regional Englishes.
    "blind18": ROOT / "tests" / "corpus" / "blind18",
    "blind19": ROOT / "tests" / "corpus" / "blind19",
    # Measured with the second reader retrained on blind18-19: an everyday mix; dialects about
    # relatives and the past (chosen after blind19); two hundred people; a chat log over a week.
    "blind20": ROOT / "tests" / "corpus" / "blind20",
    "blind21": ROOT / "tests" / "corpus" / "blind21",
    # Measured with the second reader retrained on blind20-21: hard voices of the writer's own
    # choice, negatives in the words of reports; very short replies, half-medical vocabulary.
    "blind22": ROOT / "tests" / "corpus" / "blind22",
    "blind23": ROOT / "tests" / "corpus" / "blind23",
    "blind24": ROOT / "tests" / "corpus" / "blind24",
    "blind25": ROOT / "tests" / "corpus" / "blind25",
    "blind26": ROOT / "tests" / "corpus" / "blind26",
    "blind27": ROOT / "tests" / "corpus" / "blind27",
    "blind28": ROOT / "tests" / "corpus" / "blind28",
    "blind29": ROOT / "tests" / "corpus" / "blind29",
    "blind30": ROOT / "tests" / "corpus" / "blind30",
    "blind31": ROOT / "tests" / "corpus" / "blind31",
    # Spanish, German and French: the sets written with each lexicon, and blind sets written apart.
    **{f"lang-{lang}": ROOT / "tests" / "corpus" / "lang" / f"{lang}.yaml" for lang in LANGUAGES},
    **{
        f"blind-{lang}": ROOT / "tests" / "corpus" / "lang_blind" / f"{lang}.yaml"
        for lang in LANGUAGES
    },
    # Second blind sets per language, written after the first ones had been used to widen.
    **{
        f"blind2-{lang}": ROOT / "tests" / "corpus" / "lang_blind2" / f"{lang}.yaml"
        for lang in LANGUAGES
    },
    # Third blind sets per language, written after the second ones had been used to widen.
    **{
        f"blind3-{lang}": ROOT / "tests" / "corpus" / "lang_blind3" / f"{lang}.yaml"
        for lang in LANGUAGES
    },
}
OUTCOMES = ("emergency", "urgent", "soon", "question", "none")
RANK = {"none": 0, "question": 0, "soon": 1, "urgent": 2, "emergency": 3}
SET_ASIDE_KINDS = ("denial", "other_person", "past")
ALL_SIGNS = (*EMERGENCY_SIGNS, *URGENT_SIGNS, "high_back_pain", *SOON_SIGNS)

# Targets of issue 9 (on every corpus).
EMERGENCY_RECALL_TARGET = 0.97
EMERGENCY_SIGN_TARGET = 0.90
URGENT_RECALL_TARGET = 0.90
FALSE_QUESTION_TARGET = 0.10


@dataclass(frozen=True)
class Case:
    text: str
    expect: str
    signs: tuple[str, ...]
    kind: str
    where: str


@dataclass(frozen=True)
class Scored:
    case: Case
    outcome: str
    reading: Reading

    @property
    def reached(self) -> bool:
        """The coach does at least what the message needs (a question is answered as one)."""
        expect = self.case.expect
        if expect == "question":
            return self.outcome == "question"
        if expect == "none":
            return self.outcome in ("none", "question")
        return RANK[self.outcome] >= RANK[expect]

    def describe(self) -> str:
        found = ", ".join(f"{m.sign}:{m.status.value} ({m.words})" for m in self.reading.mentions)
        return (
            f"[{self.case.expect}/{self.case.kind} {','.join(self.case.signs) or '-'}] "
            f"-> {self.outcome}: {self.case.text!r}  {{{found}}}"
        )


@dataclass
class CorpusReport:
    name: str
    scored: list[Scored] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # best of three reads
    first: list[float] = field(default_factory=list)  # the first read (typo cache cold)
    # Written by a carer for the patient ("my husband can't pee"): the coach is built for the
    # person themself and sets someone else's signs aside (issue 9), so these are shown apart.
    proxy: list[Scored] = field(default_factory=list)

    def of(self, expect: str) -> list[Scored]:
        return [s for s in self.scored if s.case.expect == expect]

    def recall(self, expect: str) -> tuple[int, int]:
        rows = self.of(expect)
        return sum(s.reached for s in rows), len(rows)

    def sign_recall(self) -> dict[str, tuple[int, int]]:
        """Per sign, of the messages reporting it: how many got at least the question it needs."""
        table: dict[str, list[int]] = {}
        for s in self.scored:
            if s.case.expect not in ("emergency", "urgent", "soon"):
                continue
            for sign in s.case.signs:
                hit, n = table.setdefault(sign, [0, 0])
                table[sign] = [hit + s.reached, n + 1]
        return {sign: (hit, n) for sign, (hit, n) in table.items()}

    @property
    def missed_emergencies(self) -> list[Scored]:
        return [s for s in self.of("emergency") if not s.reached]

    @property
    def false_questions(self) -> list[Scored]:
        """Messages with no sign of the person's own that would get a screening question."""
        return [s for s in self.of("none") if s.outcome in ("emergency", "urgent", "soon")]

    @property
    def false_alarms(self) -> list[Scored]:
        """An emergency sign read as the person's own in a denial, someone else's sign or the
        past: typed at the emergency question, it would bring the EMERGENCY advice. (The second
        reader's possible emergency only ever asks; a sign it doubts is confirmed first.)"""
        return [s for s in self.of("none") if s.case.kind in SET_ASIDE_KINDS and _alarms(s)]

    @property
    def second_reader(self) -> tuple[int, int]:
        """Emergency reports reached only by the second reader; false questions it asked."""
        reached = sum(1 for s in self.of("emergency") if s.reading.possible_emergency)
        asked = sum(1 for s in self.false_questions if s.reading.possible_emergency)
        return reached, asked

    @property
    def misses(self) -> list[Scored]:
        return [s for s in self.scored if not s.reached]

    def render(self, *, misses: bool = False) -> str:
        total = len(self.scored)
        lines = [f"{self.name}: {total} messages"]
        if not total:
            return lines[0] + " (none found)"
        for expect in ("emergency", "urgent", "soon", "question"):
            hit, n = self.recall(expect)
            lines.append(f"  {expect + ' recall':<22}{hit:>4}/{n:<4} {_pct(hit, n)}")
        none = self.of("none")
        fq = len(self.false_questions)
        lines.append(f"  {'false questions':<22}{fq:>4}/{len(none):<4} {_pct(fq, len(none))}")
        aside = [s for s in none if s.case.kind in SET_ASIDE_KINDS]
        fa = len(self.false_alarms)
        lines.append(
            f"  {'false alarms':<22}{fa:>4}/{len(aside):<4} {_pct(fa, len(aside))}"
            "  (EMERGENCY from a denial, someone else or the past)"
        )
        reached, asked = self.second_reader
        confirm = sum(1 for s in self.of("emergency") if s.reading.doubted)
        lines.append(
            f"  {'second reader':<22}{reached:>4} emergency reports reached only by it, "
            f"{asked} of the false questions asked by it, {confirm} emergency reports to "
            "confirm with a tap at the emergency question"
        )
        alarms = sum(1 for s in self.of("question") if _alarms(s))
        lines.append(f"  {'questions alarmed':<22}{alarms:>4}/{len(self.of('question')):<4}")
        mean = statistics.mean(self.seconds) * 1000
        p99 = sorted(self.seconds)[int(0.99 * (len(self.seconds) - 1))] * 1000
        first = statistics.mean(self.first) * 1000
        worst = max(self.seconds) * 1000
        lines.append(
            f"  time per message: mean {mean:.2f} ms, p99 {p99:.2f} ms, max {worst:.2f} ms"
            f" (first read, typo cache cold: mean {first:.2f} ms)"
        )
        lines.append("  recall per sign (messages that got at least the question they need):")
        table = self.sign_recall()
        for sign in ALL_SIGNS:
            if sign in table:
                hit, n = table[sign]
                lines.append(f"    {sign:<26}{hit:>4}/{n:<4} {_pct(hit, n)}")
        kinds = Counter(s.case.kind for s in self.scored)
        lines.append("  kinds: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
        if self.proxy:
            taken = Counter(s.outcome for s in self.proxy)
            lines.append(
                f"  written by a carer for the patient (not counted above): {len(self.proxy)}, "
                "read as " + ", ".join(f"{k} {v}" for k, v in sorted(taken.items()))
            )
        if misses and self.misses:
            lines.append("  taken wrong:")
            lines.extend(f"    {s.describe()}" for s in self.misses)
        return "\n".join(lines)


def _alarms(s: Scored) -> bool:
    """Typed at the emergency question, the message would bring the EMERGENCY advice."""
    return s.reading.top_tier == Tier.EMERGENCY and not s.reading.doubted


def _pct(hit: int, n: int) -> str:
    return f"{100 * hit / n:5.1f}%" if n else "   n/a"


def load_cases(folder: Path) -> list[Case]:
    import yaml

    cases: list[Case] = []
    paths = [folder] if folder.is_file() else sorted(folder.glob("*.yaml"))
    for path in paths:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for index, raw in enumerate(data.get("messages") or []):
            expect = str(raw["expect"])
            if expect not in OUTCOMES:
                raise ValueError(f"{path.name}[{index}]: unknown expect {expect!r}")
            cases.append(
                Case(
                    text=str(raw["text"]),
                    expect=expect,
                    signs=tuple(str(s) for s in raw.get("signs") or ()),
                    kind=str(raw.get("kind", "report")),
                    where=f"{path.name}[{index}]",
                )
            )
    return cases


def language_of(corpus: str) -> str:
    """The language a corpus is written in: its name's suffix, or English."""
    suffix = corpus.rsplit("-", 1)[-1]
    return suffix if suffix in LANGUAGES else "en"


def default_reader(language: str = "en") -> Reader:
    lexicon = load_content(ROOT / "content", language).lexicon
    assert lexicon is not None
    return reader_for(lexicon)


def _timed(reader: Reader, text: str) -> float:
    started = time.perf_counter()
    reader.read(text)
    return time.perf_counter() - started


def score(name: str, cases: Sequence[Case], reader: Reader) -> CorpusReport:
    report = CorpusReport(name)
    for case in cases:
        started = time.perf_counter()
        reading = reader.read(case.text)
        report.first.append(time.perf_counter() - started)
        # The best of three further reads: the cost itself, without a busy machine's noise.
        report.seconds.append(min(_timed(reader, case.text) for _ in range(3)))
        scored = Scored(case, reading.outcome(), reading)
        (report.proxy if case.kind == "proxy" else report.scored).append(scored)
    return report


def long_messages(reader: Reader) -> str:
    """The worst cases: rambling messages at 1,500 characters (longer ones get the coach's "long
    message" answer after being read) and at the 4,000 characters the reader reads at most."""
    rng = random.Random(1)
    words = (
        "my back is sore and the ice helped but walking is hard and i feel tired today the pain "
        "goes down my leg sometimes and my bum aches when i sit no numbness though bladder fine"
    ).split()
    rambling = " ".join(rng.choice(words) for _ in range(800))
    sentences = ". ".join(" ".join(rng.choice(words) for _ in range(12)) for _ in range(80))
    signs = "both legs numb and bum numb and cant pee and chest pain " * 80
    lines = ["long messages (best of five reads):"]
    for name, text in (("no full stop", rambling), ("sentences", sentences), ("signs", signs)):
        cells = []
        for size in (1500, 4000):
            sample = text[:size]
            cells.append(
                f"{size} chars {min(_timed(reader, sample) for _ in range(5)) * 1000:.1f} ms"
            )
        lines.append(f"  {name:<14}" + ", ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=(*CORPORA, "all"), default="all")
    parser.add_argument("--misses", action="store_true", help="list every message taken wrong")
    parser.add_argument(
        "--lexicon-only",
        action="store_true",
        help="read without the second reader (the baseline, measured in the same way)",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    reader = default_reader()
    print(f"reader built in {time.perf_counter() - started:.2f} s (spaCy import included)")
    if args.lexicon_only:
        reader.model = None
    names = [n for n in CORPORA if CORPORA[n].exists()] if args.corpus == "all" else [args.corpus]
    readers = {"en": reader}
    failed = False
    for name in names:
        language = language_of(name)
        if language not in readers:
            readers[language] = default_reader(language)
        report = score(name, load_cases(CORPORA[name]), readers[language])
        print(report.render(misses=args.misses))
        failed |= bool(report.missed_emergencies or report.false_alarms)
    print(long_messages(reader))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
