"""The one-page report for the person's doctor, as a PDF (fpdf2).

Text is set in DejaVu Sans (shipped with matplotlib), embedded and subset, so any language's
letters print and the text can be read back. When the content would run over one page, the
page is set in a smaller size: a clinician gets one page, not a second half-empty one.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

FONT = "DejaVu"
SIZES = (10.0, 9.0, 8.0, 7.0, 6.0)  # points, tried in order until everything fits one page
CHART_WIDTH_MM = 170
MARGIN_MM = 12
USABLE_MM = 297 - 2 * MARGIN_MM  # A4, top and bottom margins


@dataclass(frozen=True)
class Section:
    heading: str
    lines: Sequence[str]


@dataclass(frozen=True)
class ClinicianReport:
    """Every word on the page, already in the person's language."""

    title: str
    prepared: str  # who made it and when
    summary: Sequence[str]  # onset, trigger, where, first score
    chart_png: bytes | None
    chart_caption: str
    sections: Sequence[Section]
    disclaimer: str
    author: str = "Recovery Coach"


def render_pdf(report: ClinicianReport) -> bytes:
    """The report as PDF bytes, on one A4 page whenever a size in SIZES lets it fit."""
    pdf = _document(report)
    # Measure first (fonts are parsed once per document: the costly part), then draw once.
    size = next((s for s in SIZES if _flow(pdf, report, s, draw=False) <= USABLE_MM), SIZES[-1])
    _flow(pdf, report, size, draw=True)
    return bytes(pdf.output())


def _fonts() -> tuple[Path, Path]:
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"


def _document(report: ClinicianReport):  # type: ignore[no-untyped-def]
    from fpdf import FPDF

    regular, bold = _fonts()
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_margins(15, MARGIN_MM, 15)
    pdf.set_auto_page_break(True, margin=MARGIN_MM)
    pdf.add_font(FONT, "", str(regular))
    pdf.add_font(FONT, "B", str(bold))
    pdf.set_title(report.title)
    pdf.set_author(report.author)
    pdf.set_creator(report.author)
    pdf.add_page()
    return pdf


def _flow(pdf, report: ClinicianReport, size: float, *, draw: bool) -> float:  # type: ignore[no-untyped-def]
    """Set the page at `size` points (or only measure it): the height it takes, in mm."""
    from fpdf.enums import MethodReturnValue, XPos, YPos

    line = size * 0.5  # line height in mm for this font size
    used = 0.0

    def gap(mm: float) -> None:
        nonlocal used
        used += mm
        if draw:
            pdf.ln(mm)

    def paragraph(text: str, *, style: str = "", scale: float = 1.0) -> None:
        nonlocal used
        pdf.set_font(FONT, style, size * scale)
        height = pdf.multi_cell(
            0,
            line * scale,
            text,
            align="L",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
            dry_run=not draw,
            output=MethodReturnValue.HEIGHT,
        )
        used += float(height)

    paragraph(report.title, style="B", scale=1.6)
    paragraph(report.prepared, scale=0.9)
    gap(line * 0.5)
    for text in report.summary:
        paragraph(text)
    if report.chart_png is not None:
        gap(line * 0.3)
        # The chart keeps its 2:1 shape; it shrinks with the text when the page is full.
        width = CHART_WIDTH_MM * min(1.0, size / SIZES[0])
        used += width / 2
        if draw:
            pdf.image(io.BytesIO(report.chart_png), x=(210 - width) / 2, w=width, h=width / 2)
        paragraph(report.chart_caption, scale=0.85)
    for section in report.sections:
        gap(line * 0.5)
        paragraph(section.heading, style="B", scale=1.1)
        for text in section.lines:
            paragraph(text)
    gap(line * 0.6)
    paragraph(report.disclaimer, scale=0.85)
    return used
