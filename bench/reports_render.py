"""Pictures and pages: what the pain chart (PNG) and the clinician's one-page PDF cost to make,
how big they are, and what the lazy import saves at start-up.

    .venv/bin/python -m bench.reports_render [--quick]

Cold figures run in a fresh interpreter each (imports of matplotlib / fpdf2 included, as the
first /progress or /report after a start pays them); warm figures are the median (min-max) of
repeated renders in one process. The report is a full fortnight: 15 pain scores, 15 emergency
screens, four decisions, the medicines text. Rendering runs inside the unit of work that handles
the command (in a worker thread, never on the event loop), so it is also how long that person's
lock (and, on SQLite, the database's write lock) is held.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from coach.content import load_content
from coach.reports.chart import AdviceMark, PainChart, PhaseSpan, render_png
from coach.reports.clinician_pdf import ClinicianReport, Section, render_pdf

ONSET = date(2026, 3, 23)
DAYS = 15


def fortnight() -> tuple[PainChart, ClinicianReport]:
    content = load_content(Path("content"))
    last = ONSET + timedelta(days=DAYS - 1)
    chart = PainChart(
        title=content.ui("chart_title"),
        axis_label=content.ui("chart_axis"),
        phase_labels={"ice": content.ui("chart_phase_ice"), "heat": content.ui("chart_phase_heat")},
        points=[(ONSET + timedelta(days=i), max(0, 7 - i // 2)) for i in range(DAYS)],
        first_day=ONSET,
        last_day=last,
        day_label=lambda d: d.strftime("%d %b"),
        phases=[
            PhaseSpan("ice", ONSET, ONSET + timedelta(days=1)),
            PhaseSpan("heat", ONSET + timedelta(days=2), last),
        ],
        advice=[AdviceMark(ONSET + timedelta(days=2), 1, content.ui("tier_name_soon"))],
    )
    screens = [
        f"{ONSET + timedelta(days=i):%d %B %Y}, daily check-in (day {i + 1}): None of these"
        for i in range(DAYS)
    ]
    decisions = [
        f"{ONSET + timedelta(days=d - 1):%d %B %Y}: see a doctor soon. Reason given: "
        f"{content.rule_reason(r)}. Source: "
        f"{content.sources[content.rule_source(r)].title}"
        for d, r in (
            (1, "no_red_flags"),
            (3, "no_improvement_day3"),
            (7, "no_improvement_day7"),
            (14, "lasting_day14"),
        )
    ]
    report = ClinicianReport(
        title=content.ui("report_title"),
        prepared=content.ui("report_prepared", date="6 April 2026"),
        summary=["Started 23 March 2026 after lifting or bending. Where: lower back."],
        chart_png=render_png(chart),
        chart_caption=content.ui("report_pain_trend", trend=" → ".join("7" * DAYS)),
        sections=[
            Section(content.ui("report_heading_screens"), screens),
            Section(content.ui("report_heading_decisions"), decisions),
            Section(content.ui("report_heading_tried"), ["Of 14 check-ins: cold packs on 2."]),
            Section(content.ui("report_heading_medicines"), [content.advice("medicines")]),
        ],
        disclaimer=content.ui("report_disclaimer"),
    )
    return chart, report


def timed(run, repeats: int) -> tuple[float, float, float, int]:  # type: ignore[no-untyped-def]
    times, size = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        size = len(run())
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), min(times), max(times), size


COLD = """
import time, sys
t0 = time.perf_counter()
from bench.reports_render import fortnight
from coach.reports.chart import render_png
from coach.reports.clinician_pdf import render_pdf
chart, report = fortnight()  # renders the chart once (first use of matplotlib)
t1 = time.perf_counter()
render_pdf(report)
t2 = time.perf_counter()
print(f"{(t1 - t0) * 1000:.0f} {(t2 - t1) * 1000:.0f}")
"""
STARTUP = """
import time, sys
t0 = time.perf_counter()
import coach.cli, coach.telegram_adapter.app
t1 = time.perf_counter()
loaded = [m for m in ("matplotlib", "fpdf", "numpy", "PIL") if m in sys.modules]
import matplotlib.backends.backend_agg, matplotlib.figure, fpdf
t2 = time.perf_counter()
print(f"{(t1 - t0) * 1000:.0f} {(t2 - t1) * 1000:.0f} {','.join(loaded) or '-'}")
"""


def in_fresh_interpreter(code: str, repeats: int) -> list[list[str]]:
    return [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
        for _ in range(repeats)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats, fresh = (5, 3) if args.quick else (30, 7)
    chart, report = fortnight()
    png = timed(lambda: render_png(chart), repeats)
    pdf = timed(lambda: render_pdf(report), repeats)
    cold = in_fresh_interpreter(COLD, fresh)
    startup = in_fresh_interpreter(STARTUP, fresh)

    def spread(values: list[float]) -> str:
        return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"

    print("| what | ms, median (min-max) | size |\n|---|---|---|")
    print(
        f"| chart PNG 800x400, warm (n={repeats}) | {png[0]:.0f} ({png[1]:.0f}-{png[2]:.0f}) "
        f"| {png[3] / 1024:.1f} KiB |"
    )
    print(
        f"| clinician PDF, chart given, warm (n={repeats}) "
        f"| {pdf[0]:.0f} ({pdf[1]:.0f}-{pdf[2]:.0f}) "
        f"| {pdf[3] / 1024:.1f} KiB |"
    )
    print(
        f"| first chart in a fresh process (imports included, n={fresh}) "
        f"| {spread([float(r[0]) for r in cold])} | |"
    )
    print(
        f"| first PDF in a fresh process, after the first chart (n={fresh}) "
        f"| {spread([float(r[1]) for r in cold])} | |"
    )
    print(
        f"| start-up imports (coach.cli + telegram_adapter.app, n={fresh}) "
        f"| {spread([float(r[0]) for r in startup])} | loaded: {startup[0][2]} |"
    )
    print(
        f"| what importing matplotlib + fpdf2 there would add (n={fresh}) "
        f"| {spread([float(r[1]) for r in startup])} | |"
    )


if __name__ == "__main__":
    main()
