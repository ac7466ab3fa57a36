"""The pure renderers of coach/reports: the chart decodes as a PNG of the promised size with
its phases and advice drawn; the clinician's page is one A4 page whose text reads back, in any
alphabet, and renders to an image. Neither library is imported before a picture is made."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import date, timedelta

import pypdfium2
from PIL import Image
from pypdf import PdfReader

from coach.reports.chart import (
    ADVICE_COLOURS,
    PHASE_COLOURS,
    AdviceMark,
    PainChart,
    PhaseSpan,
    render_png,
)
from coach.reports.clinician_pdf import (
    SIZES,
    USABLE_MM,
    ClinicianReport,
    Section,
    _document,
    _flow,
    render_pdf,
)

ONSET = date(2026, 3, 23)


def chart(advice: bool = True, days: int = 9) -> PainChart:
    last = ONSET + timedelta(days=days - 1)
    return PainChart(
        title="Pain by day",
        axis_label="Pain (0 to 10)",
        phase_labels={"ice": "Cold", "heat": "Heat"},
        points=[(ONSET + timedelta(days=i), max(0, 7 - i)) for i in range(days)],
        first_day=ONSET,
        last_day=last,
        day_label=lambda d: f"{d.day}.{d.month}.",
        phases=[
            PhaseSpan("ice", ONSET, ONSET + timedelta(days=1)),
            PhaseSpan("heat", ONSET + timedelta(days=2), last),
        ],
        advice=[AdviceMark(ONSET + timedelta(days=2), 1, "see a doctor soon")] if advice else [],
    )


def colour_present(image: Image.Image, hex_colour: str, tolerance: int = 12) -> bool:
    want = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
    return any(
        all(abs(c - w) <= tolerance for c, w in zip(rgb, want, strict=True)) for _, rgb in colours
    )


def test_chart_is_a_png_of_the_promised_size_with_phases_and_advice() -> None:
    image = Image.open(io.BytesIO(render_png(chart())))
    assert image.format == "PNG" and image.size == (800, 400)
    assert colour_present(image, PHASE_COLOURS["ice"]) and colour_present(
        image, PHASE_COLOURS["heat"]
    )
    assert colour_present(image, ADVICE_COLOURS[1])


def test_chart_without_advice_draws_no_advice_line_and_other_sizes_work() -> None:
    image = Image.open(io.BytesIO(render_png(chart(advice=False), width_px=600, height_px=300)))
    assert image.size == (600, 300)
    assert not any(colour_present(image, c) for c in ADVICE_COLOURS.values())


def test_a_long_episode_still_draws_one_tick_per_few_days() -> None:
    image = Image.open(io.BytesIO(render_png(chart(days=40))))
    assert image.size == (800, 400)


def report(lines: int, chart_png: bytes | None) -> ClinicianReport:
    return ClinicianReport(
        title="Für Ihre Ärztin: Rückenschmerz",
        prepared="Erstellt am 25. März 2026",
        summary=["Begonnen am 23. März 2026 nach Heben; Schmerz 6 → 6 → 6 (0–10)"],
        chart_png=chart_png,
        chart_caption="Schmerz pro Tag",
        sections=[
            Section(
                "Notfallzeichen", [f"{i}. März 2026, Check-in: keines davon" for i in range(lines)]
            ),
            Section("Entscheidungen", ["25. März 2026: bald zum Arzt. Quelle: NICE NG59"]),
        ],
        disclaimer="Keine Diagnose, keine Dosierungen. Niño, garçon, señal.",
    )


def test_pdf_is_one_a4_page_whose_text_reads_back_in_any_alphabet() -> None:
    body = render_pdf(report(5, render_png(chart())))
    reader = PdfReader(io.BytesIO(body))
    assert len(reader.pages) == 1
    assert reader.metadata is not None and reader.metadata.title == "Für Ihre Ärztin: Rückenschmerz"
    text = reader.pages[0].extract_text()
    for expected in (
        "Rückenschmerz",
        "6 → 6 → 6",
        "4. März 2026, Check-in: keines davon",
        "Niño, garçon",
    ):
        assert expected in text
    page = pypdfium2.PdfDocument(body)[0].render(scale=2).to_pil()
    assert page.size == (1191, 1684)  # A4 at 144 dpi
    assert colour_present(page, PHASE_COLOURS["heat"], tolerance=16)  # the chart is on the page


def test_a_full_fortnight_is_set_smaller_to_stay_on_one_page() -> None:
    full = report(45, render_png(chart(days=14)))
    assert _flow(_document(full), full, SIZES[0], draw=False) > USABLE_MM  # too long at first
    body = render_pdf(full)
    reader = PdfReader(io.BytesIO(body))
    assert len(reader.pages) == 1
    assert "44. März 2026, Check-in: keines davon" in reader.pages[0].extract_text()


def test_a_report_without_pain_scores_has_no_chart() -> None:
    body = render_pdf(report(1, None))
    page = pypdfium2.PdfDocument(body)[0].render(scale=1).to_pil()
    assert not colour_present(page, PHASE_COLOURS["heat"], tolerance=16)


def test_plotting_and_pdf_libraries_are_not_imported_at_start_up() -> None:
    probe = (
        "import sys, coach.cli, coach.telegram_adapter.app, coach.reports.chart, "
        "coach.reports.clinician_pdf, coach.coaching.router; "
        "print(sorted(m for m in ('matplotlib', 'fpdf', 'numpy', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
