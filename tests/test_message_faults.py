"""What the coach's summaries and answers say when little is known yet: no empty placeholders,
readable dates, services named in words that mean something anywhere, and one story about when
the first check-in comes."""

from __future__ import annotations

import re
from datetime import UTC

import sqlalchemy as sa
from sqlmodel import select

from coach.storage import repository as repo
from coach.storage.database import unit_of_work
from coach.storage.models import FollowUpKind, Person
from tests.support.bot_harness import (
    SELF_CARE_CHECK,
    START,
    BotHarness,
    at,
    three_days_without_improvement,
)

# Left behind when a summary's part is unknown: "started - after -", "pain - (0 to 10)".
EMPTY_PLACEHOLDER = re.compile(r"(^|\s)-(\s|;|\.|$)")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


async def test_urgent_advice_before_onset_and_pain_leaves_out_what_is_unknown(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    await bot.tap("None of these")
    replies = await bot.tap("High up, between the shoulders")  # URGENT at the second question
    text = "\n".join(m.text or "" for m in replies)
    assert "Please see a doctor today" in text
    assert "Tell them" not in text, text  # nothing known yet to tell
    assert not EMPTY_PLACEHOLDER.search(text), text
    assert "\n\n\n" not in text


async def test_urgent_advice_names_same_day_services_in_the_persons_terms(
    bot: BotHarness,
) -> None:
    await bot.onboard(zone_label="US Eastern (New York)")
    await bot.tap("None of these")
    replies = await bot.tap("High up, between the shoulders")
    text = "\n".join(m.text or "" for m in replies)
    assert "111" not in text and "GP" not in text, text  # no UK-only service in New York
    assert "call 911" in text  # the person's own emergency number


async def test_the_doctor_summary_reads_a_date_and_only_what_is_known(bot: BotHarness) -> None:
    replies = await three_days_without_improvement(bot)
    text = "\n".join(m.text or "" for m in replies)
    assert "book a doctor, physiotherapist or pharmacist" in text
    assert "Tell them: it started on 23 March 2026 after lifting or bending" in text, text
    assert "pain 6 → 6 → 6 (0 to 10)" in text
    assert not ISO_DATE.search(text), text
    assert not EMPTY_PLACEHOLDER.search(text), text


async def test_progress_on_the_first_day_says_the_first_checkin_is_tomorrow(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    replies = await bot.symptom_check(SELF_CARE_CHECK)
    assert "first check-in is tomorrow" in (replies[-1].text or "")
    (progress,) = await bot.say("/progress")
    assert "Your first one is tomorrow at 19:00" in (progress.text or ""), progress.text


async def test_progress_on_a_day_whose_checkin_is_still_ahead_says_today(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    await bot.advance_to(at(2, 12, 0))  # day 2, before its first check-in at 19:00
    (progress,) = await bot.say("/progress")
    assert "Your first one is today at 19:00" in (progress.text or ""), progress.text


async def test_a_care_nudge_scheduled_before_the_upgrade_is_skipped_not_sent(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    with unit_of_work(bot.coach.engine) as session:
        person = session.exec(select(Person)).one()
        episode = repo.open_episode(session, person)
        assert episode is not None
        repo.upsert_followup(
            session,
            person=person,
            episode=episode,
            kind=FollowUpKind.NUDGE_CARE,
            local_date=START.date(),
            due_at=at(1, 16, 30).astimezone(UTC),
        )
    before = len(bot.messages())
    report = await bot.advance_to(at(1, 16, 35))
    assert report.sent == 0 and len(bot.messages()) == before
    with bot.coach.engine.connect() as db:
        status = db.execute(
            sa.text("select status from followup where kind = 'nudge_care'")
        ).scalar_one()
    assert status == "skipped"


async def test_progress_says_in_words_how_far_the_pain_has_come(bot: BotHarness) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    await bot.advance_to(at(2, 19, 0))
    await bot.tap("None of these")
    await bot.tap("3")
    await bot.tap("Better")
    await bot.tap("Ice/heat and walks")
    replies = await bot.say("/progress")
    text = "\n".join(m.text or "" for m in replies)
    assert "Pain down from 6 to 3: that's real progress." in text, text
    assert "6 → 3" in text  # the numbers stay, under the words
