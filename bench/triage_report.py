"""Triage accuracy of the real bot on the clinical vignettes (tests/vignettes/vignettes.yaml).

    .venv/bin/python -m bench.triage_report [--workers N] [--only ID ...] [--verbose]
    .venv/bin/python bench/triage_report.py ...

Plays every vignette through the real python-telegram-bot Application against the Bot API
stand-in (tests/vignettes/runner.py, the runner tests/test_triage_vignettes.py uses) and prints
per-tier accuracy, emergency sensitivity, under- and over-triage counts and the confusion table,
then every miss with what the person typed and how the bot answered. A vignette in which the bot
gave no advice at all is its own verdict, `none` (column NONE), never counted as SELF. `--verbose`
adds one line per vignette and the transcripts of the misses.

Exit status: 1 when an EMERGENCY vignette was missed, an URGENT one under-triaged, or any vignette
got no advice at all; else 0.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `coach` and `tests` importable
    sys.path.insert(0, str(ROOT))

from tests.vignettes.runner import (  # noqa: E402
    VIGNETTES_FILE,
    Report,
    default_workers,
    load_vignettes,
    run_report,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--file", type=Path, default=VIGNETTES_FILE, help="vignette file (default: %(default)s)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"processes to run vignettes in (default: {default_workers()}, one per CPU, max 4)",
    )
    parser.add_argument("--only", nargs="+", metavar="ID", help="run only these vignette ids")
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="one line per vignette, miss transcripts"
    )
    return parser.parse_args(argv)


def details(report: Report) -> str:
    lines = ["", "Per vignette:"]
    for r in report.results:
        flag = "" if r.verdict == "correct" else f"  <- {r.verdict.upper()}"
        db = r.db_tier.name if r.db_tier is not None else "-"
        lines.append(
            f"  {r.vignette.id:<12} {r.vignette.persona:<10} expected {r.expected.name:<9} "
            f"given {r.given_name:<9} db {db:<9} {r.seconds:5.2f}s{flag}"
        )
    for r in report.results:
        if r.verdict != "correct":
            lines.append(f"\nTranscript of {r.vignette.id} ({r.verdict}):")
            lines.extend(r.transcript)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    vignettes = load_vignettes(args.file)
    if args.only:
        unknown = set(args.only) - {v.id for v in vignettes}
        if unknown:
            print(f"unknown vignette ids: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        vignettes = [v for v in vignettes if v.id in set(args.only)]
    report = asyncio.run(run_report(vignettes, workers=args.workers))
    print(report.render())
    if args.verbose:
        print(details(report))
    failed = report.missed_emergencies or report.under_triaged_urgent or report.without_advice
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
