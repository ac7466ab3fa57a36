"""How much the second reader adds on a first reading, without a fresh blind set.

    python -m bench.second_reader_loso

For each English blind set that has been measured (blind to blind23): the lexicon reader as it
was when the set landed (a git worktree of the commit that added it, so before any widening the
set led to) reads the set; a second reader, both heads, is trained on every other measured set
(bench/train_whole_message.py's settings), leaving out this one and the dev examples written
after blind sets were read (`widened*.yaml`); the combination is scored as the coach would act,
the doubt checks included. From blind16 on, the commit that added a set already had a second
reader: only its lexicon's reading is taken from there. Needs git and the repository's history;
about ten minutes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import train_whole_message as training
from bench.freetext_report import CORPORA, ROOT, Case, load_cases

# Every English blind set measured so far.
BLIND_SETS = tuple(s for s in training.TRAINING_SETS if s.startswith("blind"))
# The second head's confirm floors shown beside the one shipped.
OWN_FLOORS = (0.3, 0.4, 0.5, 0.6, 0.7)

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
        # The lexicon's own reading: a later commit's second reader may have added a question.
        lexicon_outcome = "none" if getattr(r, "possible_emergency", False) else r.outcome()
        statuses = sorted(str(getattr(m.status, "value", m.status)) for m in r.set_aside)
        print(json.dumps({"outcome": lexicon_outcome, "set_aside": statuses}))
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
    return (
        f"| {name} | {f[1]} | {f[0]} ({first}) | {w[0]} ({second}) | {questions} | {alarms} "
        f"| {w[6]} |"
    )


def main() -> int:
    # emergencies reached, emergencies, false questions, sign-free, alarms, set-aside messages,
    # emergencies the lexicon found that are confirmed with a tap first
    totals = {"first": [0] * 7, "with": [0] * 7}
    # per floor of the second head: alarms left, emergencies to confirm
    floors = {floor: [0, 0] for floor in OWN_FLOORS}
    print(
        "| set | emergencies | first reading | with the second reader | false questions "
        "| alarms (denial, other, past) | emergencies to confirm with a tap |"
    )
    print("|---|---|---|---|---|---|---|")
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
            training_cases = training_without(name)
            texts = [c.text for c in cases]
            probability = training.fit(training_cases).predict_proba(texts)[:, 1]
            own = training.fit_own(training_cases).predict_proba(texts)[:, 1]
            row: dict[str, list[int]] = {"first": [0] * 7, "with": [0] * 7}
            for case, reading, p, o in zip(cases, old, probability, own, strict=True):
                outcome, aside = str(reading["outcome"]), list(reading["set_aside"])  # type: ignore[call-overload]
                limit = training.THRESHOLD_SET_ASIDE if aside else training.THRESHOLD
                possible = outcome == "none" and "other_person" not in aside and p > limit
                found = outcome == "emergency"
                doubted = found and (p < training.CONFIRM_BELOW or o < training.OWN_CONFIRM_BELOW)
                set_aside = case.expect == "none" and case.kind in training.SET_ASIDE_KINDS
                for floor in OWN_FLOORS:
                    kept = found and p >= training.CONFIRM_BELOW and o >= floor
                    floors[floor][0] += set_aside and kept
                    floors[floor][1] += case.expect == "emergency" and found and not kept
                for label, out in (
                    ("first", outcome),
                    ("with", "emergency" if possible else outcome),
                ):
                    if set_aside:
                        # An emergency sign read in it: advice at the emergency question, unless
                        # the second reader doubts it (then confirmed with a tap).
                        row[label][4] += found and not (label == "with" and doubted)
                        row[label][5] += 1
                    if case.expect == "emergency":
                        row[label][0] += out == "emergency"
                        row[label][1] += 1
                        row[label][6] += label == "with" and doubted
                    elif case.expect == "none":
                        row[label][2] += out in ("emergency", "urgent", "soon")
                        row[label][3] += 1
            for label in totals:
                totals[label] = [a + b for a, b in zip(totals[label], row[label], strict=True)]
            print(_row(name, row["first"], row["with"]), flush=True)
    print(_row("**all**", totals["first"], totals["with"]))
    emergencies = totals["with"][1]
    print("\nthe second head's floor: alarms left, typed emergencies to confirm with a tap")
    for floor, (alarms, confirm) in floors.items():
        print(f"  below {floor}: {alarms} alarms, {confirm} ({100 * confirm / emergencies:.1f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
