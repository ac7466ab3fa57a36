"""How much the second reader adds on a first reading, without a fresh blind set.

    python -m bench.second_reader_loso

For each English blind set that landed before the second reader (blind to blind15): the lexicon
reader as it was when the set landed (a git worktree of the commit that added it, so before any
widening the set led to) reads the set; a second reader is trained on every other measured set
(bench/train_whole_message.py's settings), leaving out this one and the dev examples written
after blind sets were read (`widened*.yaml`); the combination is scored as the coach would act,
the doubt check included. Needs git and the repository's history; about six minutes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import train_whole_message as training
from bench.freetext_report import CORPORA, ROOT, Case, load_cases

# The sets that landed before the second reader did (blind16 and later were first read with it).
BLIND_SETS = ("blind", *(f"blind{n}" for n in range(2, 16)))

# Run inside the old worktree: that commit's reader reads the set; one JSON line per message.
_OLD_READER = """
import json, pathlib, sys
import yaml
from bench import freetext_report as fr
if hasattr(fr, "default_reader"):
    try:
        reader = fr.default_reader("en")
    except TypeError:
        reader = fr.default_reader()
else:
    from coach.content import load_content
    from coach.clinical.understanding import reader_for
    reader = reader_for(load_content(pathlib.Path("content"), "en").lexicon)
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.yaml")):
    for message in yaml.safe_load(path.read_text(encoding="utf-8"))["messages"]:
        r = reader.read(message["text"])
        statuses = sorted(str(getattr(m.status, "value", m.status)) for m in r.set_aside)
        print(json.dumps({"outcome": r.outcome(), "set_aside": statuses}))
"""


def first_readings(name: str, workdir: Path) -> list[dict[str, object]]:
    folder = CORPORA[name]
    commit = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", str(folder.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[-1]
    tree = workdir / name
    subprocess.run(
        ["git", "worktree", "add", "--quiet", "--detach", str(tree), commit],
        cwd=ROOT,
        check=True,
    )
    try:
        out = subprocess.run(
            [sys.executable, "-c", _OLD_READER, str(folder)],
            cwd=tree,
            env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=True)
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def training_without(name: str) -> list[Case]:
    cases: list[Case] = []
    for path in sorted(CORPORA["dev"].glob("*.yaml")):
        if not path.name.startswith("widened"):
            cases.extend(load_cases(path))
    others = [s for s in training.TRAINING_SETS if s not in ("dev", name)]
    cases.extend(training.training_cases(others))
    return [c for c in cases if c.kind != "proxy"]


def _row(name: str, f: list[int], w: list[int]) -> str:
    first, second = f"{100 * f[0] / f[1]:.1f} %", f"{100 * w[0] / w[1]:.1f} %"
    questions = f"{100 * f[2] / f[3]:.1f} % -> {100 * w[2] / w[3]:.1f} %"
    alarms = f"{f[4]} -> {w[4]} of {f[5]}"
    return f"| {name} | {f[1]} | {f[0]} ({first}) | {w[0]} ({second}) | {questions} | {alarms} |"


def main() -> int:
    # emergencies reached, emergencies, false questions, sign-free, alarms, set-aside messages
    totals = {"first": [0] * 6, "with": [0] * 6}
    print(
        "| set | emergencies | first reading | with the second reader | false questions "
        "| alarms (denial, other, past) |"
    )
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as workdir:
        for name in BLIND_SETS:
            cases = [c for c in load_cases(CORPORA[name]) if c.kind != "proxy"]
            old = [
                r
                for c, r in zip(
                    load_cases(CORPORA[name]), first_readings(name, Path(workdir)), strict=True
                )
                if c.kind != "proxy"
            ]
            model = training.fit(training_without(name))
            probability = model.predict_proba([c.text for c in cases])[:, 1]
            row: dict[str, list[int]] = {"first": [0] * 6, "with": [0] * 6}
            for case, reading, p in zip(cases, old, probability, strict=True):
                outcome, aside = str(reading["outcome"]), list(reading["set_aside"])  # type: ignore[call-overload]
                limit = training.THRESHOLD_SET_ASIDE if aside else training.THRESHOLD
                possible = outcome == "none" and "other_person" not in aside and p > limit
                doubted = outcome == "emergency" and p < training.CONFIRM_BELOW
                for label, out in (
                    ("first", outcome),
                    ("with", "emergency" if possible else outcome),
                ):
                    if case.expect == "none" and case.kind in ("denial", "other_person", "past"):
                        # An emergency sign read in it: advice at the emergency question, unless
                        # the second reader doubts it (then confirmed with a tap).
                        alarm = outcome == "emergency" and not (label == "with" and doubted)
                        row[label][4] += alarm
                        row[label][5] += 1
                    if case.expect == "emergency":
                        row[label][0] += out == "emergency"
                        row[label][1] += 1
                    elif case.expect == "none":
                        row[label][2] += out in ("emergency", "urgent", "soon")
                        row[label][3] += 1
            for label in totals:
                totals[label] = [a + b for a, b in zip(totals[label], row[label], strict=True)]
            print(_row(name, row["first"], row["with"]), flush=True)
    print(_row("**all**", totals["first"], totals["with"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
