"""The pain chart: scores by day, the plan's phases shaded, the advice given marked where it
happened. Rendered with matplotlib's Agg canvas (no display, no pyplot global state, safe in a
worker thread)."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

WIDTH_PX, HEIGHT_PX, DPI = 800, 400, 100
PHASE_COLOURS = {"ice": "#cfe5f7", "heat": "#fbe0c4"}
# By tier (1 SOON, 2 URGENT, 3 EMERGENCY): amber, orange-red, dark red.
ADVICE_COLOURS = {1: "#d08c00", 2: "#d9480f", 3: "#8b0000"}


@dataclass(frozen=True)
class PhaseSpan:
    phase: str  # "ice" or "heat"
    first: date
    last: date  # inclusive


@dataclass(frozen=True)
class AdviceMark:
    day: date
    tier: int  # 1 SOON, 2 URGENT, 3 EMERGENCY
    label: str


@dataclass(frozen=True)
class PainChart:
    """Everything the chart shows, in the person's words."""

    title: str
    axis_label: str
    phase_labels: dict[str, str]  # phase -> legend label
    points: Sequence[tuple[date, int]]  # (local date, pain 0-10), oldest first
    first_day: date
    last_day: date
    day_label: Callable[[date], str]  # a date as the tick shows it ("23 Mar")
    phases: Sequence[PhaseSpan] = ()
    advice: Sequence[AdviceMark] = field(default_factory=tuple)


def render_png(chart: PainChart, *, width_px: int = WIDTH_PX, height_px: int = HEIGHT_PX) -> bytes:
    """The chart as PNG bytes of exactly `width_px` x `height_px`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    figure = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()

    def x(day: date) -> int:
        return (day - chart.first_day).days

    span = max(x(chart.last_day), 1)
    legend: list[Patch] = []
    for phase in chart.phases:
        colour = PHASE_COLOURS.get(phase.phase, "#eeeeee")
        axes.axvspan(x(phase.first) - 0.5, x(phase.last) + 0.5, color=colour, zorder=0)
        label = chart.phase_labels.get(phase.phase, phase.phase)
        if label not in [patch.get_label() for patch in legend]:
            legend.append(Patch(facecolor=colour, label=label))
    if chart.points:
        xs = [x(day) for day, _ in chart.points]
        ys = [pain for _, pain in chart.points]
        axes.plot(xs, ys, color="#1f4e79", marker="o", linewidth=2, zorder=3)
        for px, py in zip(xs, ys, strict=True):
            axes.annotate(
                str(py),
                (px, py),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
                fontsize=8,
                zorder=4,
            )
    for mark in chart.advice:
        colour = ADVICE_COLOURS.get(mark.tier, "#444444")
        axes.axvline(x(mark.day), color=colour, linestyle="--", linewidth=1.5, zorder=2)
        axes.annotate(
            mark.label,
            (x(mark.day), 10.9),
            ha="center",
            va="bottom",
            fontsize=8,
            color=colour,
            annotation_clip=False,
            zorder=4,
        )
    axes.set_xlim(-0.5, span + 0.5)
    axes.set_ylim(0, 10.8)
    axes.set_yticks(range(0, 11, 2))
    step = max(1, round((span + 1) / 10))
    ticks = list(range(0, span + 1, step))
    axes.set_xticks(ticks)
    axes.set_xticklabels(
        [chart.day_label(chart.first_day + timedelta(days=t)) for t in ticks], fontsize=8
    )
    axes.set_ylabel(chart.axis_label)
    axes.set_title(chart.title, pad=24)
    axes.grid(axis="y", color="#dddddd", zorder=1)
    if legend:
        axes.legend(handles=legend, loc="upper right", fontsize=8, framealpha=0.9)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
