"""End to end through the real bot over the Bot API stand-in: /progress sends the pain chart
(a PNG read back and decoded), SOON and URGENT advice offer the one-page PDF for a doctor, and
/report sends it (read back as text, and its page rendered to an image)."""

from __future__ import annotations

import io
import sqlite3

import pypdfium2
import pytest
import sqlalchemy as sa
from PIL import Image
from pypdf import PdfReader

from coach.coaching.journeys import clinician_report
from coach.reports.chart import (
    ADVICE_COLOURS,
    HEIGHT_PX,
    PHASE_COLOURS,
    WIDTH_PX,
    PainChart,
    render_png,
)
from tests.support.bot_harness import (
    SELF_CARE_CHECK,
    USER_ID,
    BotHarness,
    at,
    three_days_without_improvement,
)
from tests.support.botapi_standin import SentMessage

REPORT_BUTTON = "Summary for my doctor (PDF)"


def sent(bot: BotHarness, method: str) -> list[SentMessage]:
    return bot.api.messages_to(USER_ID, methods=[method])


def has_colour(image: Image.Image, hex_colour: str, tolerance: int = 12) -> bool:
    want = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
    return any(
        all(abs(c - w) <= tolerance for c, w in zip(rgb, want, strict=True)) for _, rgb in colours
    )


async def test_progress_sends_the_pain_chart_then_the_same_in_words(bot: BotHarness) -> None:
    await three_days_without_improvement(bot)
    texts = await bot.say("/progress")

    photos = sent(bot, "sendPhoto")
    assert len(photos) == 1
    chart = photos[0]
    assert chart.text is not None and "Your pain by day" in chart.text
    assert "6 → 6 → 6" in chart.text and "\n" not in chart.text  # one line
    image = Image.open(io.BytesIO(chart.file_bytes or b""))
    assert image.format == "PNG" and image.size == (WIDTH_PX, HEIGHT_PX)
    # Both phases are shaded and the SOON advice of day 3 is marked.
    assert has_colour(image, PHASE_COLOURS["ice"]) and has_colour(image, PHASE_COLOURS["heat"])
    assert has_colour(image, ADVICE_COLOURS[1])
    # The words stay, for screen readers, after the picture; with a readable onset date.
    assert chart.message_id < texts[0].message_id
    assert "Pain: 6 → 6 → 6" in (texts[0].text or "")
    assert "23 March 2026" in (texts[0].text or "")


async def test_progress_chart_without_advice_has_no_advice_mark(bot: BotHarness) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    await bot.advance_to(at(2, 19, 0))
    await bot.tap("None of these")
    await bot.tap("4")
    await bot.tap("Better")
    await bot.tap("Ice/heat and walks")
    await bot.say("/progress")
    image = Image.open(io.BytesIO(sent(bot, "sendPhoto")[-1].file_bytes or b""))
    assert has_colour(image, PHASE_COLOURS["ice"])
    assert not any(has_colour(image, colour) for colour in ADVICE_COLOURS.values())


async def test_soon_advice_offers_the_report_and_the_tap_sends_a_one_page_pdf(
    bot: BotHarness,
) -> None:
    replies = await three_days_without_improvement(bot)
    advice = next(m for m in replies if "book a doctor" in (m.text or ""))
    assert REPORT_BUTTON in [label for label, _ in advice.buttons()]

    await bot.tap(REPORT_BUTTON, message=advice)
    documents = sent(bot, "sendDocument")
    assert len(documents) == 1 and documents[0].filename == "recovery-coach-for-your-doctor.pdf"
    body = documents[0].file_bytes or b""
    reader = PdfReader(io.BytesIO(body))
    assert len(reader.pages) == 1
    text = " ".join(reader.pages[0].extract_text().split())
    # Onset and trigger, in words and with a readable date.
    assert "Started 23 March 2026 after lifting or bending" in text
    assert "Pain at the first check: 6/10" in text
    # Every emergency-sign screen with its date and answer.
    assert "23 March 2026, symptom check: None of these" in text
    assert "24 March 2026, daily check-in (day 2): None of these" in text
    assert "25 March 2026, daily check-in (day 3): None of these" in text
    # Each decision with its reason and its source.
    assert "self-care. Reason given: no emergency or same-day signs" in text
    assert "see a doctor soon. Reason given: a few days without meaningful improvement" in text
    assert "EmergeOrtho: Back spasms" in text and "NICE NG59" in text
    # What was tried, and the medicines information given (no doses).
    assert "Of 2 check-ins: cold packs on 1, heat on 1, walks on 2." in text
    assert "General information only, no doses, shown on 23 March 2026" in text
    assert "ibuprofen" in text
    assert "Pain scores (0 to 10), first to last: 6 → 6 → 6." in text
    assert "does not diagnose and never gives doses" in text

    # The page renders, with the chart on it.
    page = pypdfium2.PdfDocument(body)[0].render(scale=1).to_pil()
    assert page.size == (596, 842)  # A4 at 72 dpi
    assert has_colour(page, PHASE_COLOURS["heat"], tolerance=16)

    # Asked once: counted, with nothing but the fact of asking.
    with bot.coach.engine.connect() as db:
        rows = db.execute(
            sa.text("select rule, tier, answers from decision where kind = 'clinician_report'")
        ).all()
    assert len(rows) == 1 and rows[0][0] == "clinician_report" and rows[0][1] == 0
    assert rows[0][2] in ({}, "{}")


async def test_urgent_advice_offers_the_report_beside_seen(bot: BotHarness) -> None:
    await bot.onboard()
    fever = "Fever, high temperature or shivering"
    replies = await bot.symptom_check([*SELF_CARE_CHECK[:5], fever])
    urgent = replies[-1]
    labels = [label for label, _ in urgent.buttons()]
    assert "I've been seen by a clinician" in labels and REPORT_BUTTON in labels

    await bot.say("/report")
    body = sent(bot, "sendDocument")[-1].file_bytes or b""
    text = " ".join(PdfReader(io.BytesIO(body)).pages[0].extract_text().split())
    assert "see a doctor today. Reason given: a fever, high temperature or shivering" in text
    assert "Medicines information given None recorded." in text  # the plan never started


async def test_emergency_advice_offers_no_report(bot: BotHarness) -> None:
    await bot.onboard()
    replies = await bot.tap("Numb around genitals")
    assert REPORT_BUTTON not in [label for label, _ in replies[0].buttons()]


async def test_report_before_any_check_says_there_is_nothing_yet(bot: BotHarness) -> None:
    await bot.say("/start")
    await bot.tap("I agree")
    await bot.tap("UK (London)")
    await bot.tap("19:00")
    replies = await bot.say("/report")
    assert not sent(bot, "sendDocument")
    assert "There's nothing to summarise yet" in (replies[0].text or "")
    assert "Do you have any of these right now?" in (replies[-1].text or "")  # the check waits
    with bot.coach.engine.connect() as db:
        asked = db.execute(sa.text("select count(*) from decision where kind = 'clinician_report'"))
        assert asked.scalar_one() == 0  # nothing sent, nothing counted


async def test_report_is_a_menu_command(bot: BotHarness) -> None:
    commands = {c["command"]: c["description"] for c in bot.api.commands}
    assert commands.get("report") == "A summary for your doctor (PDF)"


def test_every_report_text_key_is_used_by_the_code() -> None:
    from pathlib import Path

    from coach.content.report_keys import REPORT_UI

    root = Path(__file__).resolve().parent.parent / "coach"
    code = "".join(p.read_text() for p in root.rglob("*.py") if p.name != "report_keys.py")
    unused = [key for key in REPORT_UI if f'"{key}"' not in code]
    assert unused == []


async def test_pictures_are_drawn_after_the_commit_without_holding_the_database(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drawing takes a tenth of a second or more: it must not hold the person's lock (on SQLite
    the whole database's write lock). While the chart is drawn another writer gets in at once."""
    await three_days_without_improvement(bot)
    database = bot.coach.engine.url.database
    assert database is not None
    writers_got_in: list[bool] = []

    def draw_while_someone_writes(chart: PainChart, **options: int) -> bytes:
        other = sqlite3.connect(database, timeout=0.2, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # fails with "database is locked" if held
            other.execute("ROLLBACK")
            writers_got_in.append(True)
        except sqlite3.OperationalError:
            writers_got_in.append(False)
        finally:
            other.close()
        return render_png(chart, **options)

    monkeypatch.setattr(clinician_report, "render_png", draw_while_someone_writes)
    await bot.say("/progress")
    assert writers_got_in == [True]
    assert len(sent(bot, "sendPhoto")) == 1


async def test_a_chart_that_cannot_be_drawn_is_left_out_and_the_words_still_come(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await three_days_without_improvement(bot)

    def broken(chart: PainChart, **options: int) -> bytes:
        raise RuntimeError("a drawing bug")

    monkeypatch.setattr(clinician_report, "render_png", broken)
    texts = await bot.say("/progress")
    assert sent(bot, "sendPhoto") == []
    assert any("Pain" in (m.text or "") for m in texts), [m.text for m in texts]
    with bot.coach.engine.connect() as db:
        statuses = db.execute(
            sa.text("select status, last_error from outbox_message where kind = 'photo'")
        ).all()
    assert statuses == [("cancelled", "could not be drawn")]
