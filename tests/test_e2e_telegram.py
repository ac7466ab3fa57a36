"""End to end: the real Application over HTTP against the Bot API stand-in, on a manual clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from tests.conftest import TOKEN
from tests.support.bot_harness import SELF_CARE_CHECK, START, BotHarness, at


async def test_bot_registers_its_commands(bot: BotHarness) -> None:
    names = {c["command"] for c in bot.api.commands}
    assert {
        "checkin",
        "today",
        "progress",
        "settings",
        "pause",
        "resume",
        "stop",
        "help",
        "emergency",
    } <= names


async def test_onboarding_by_taps_records_consent_zone_and_time(bot: BotHarness) -> None:
    first = await bot.say("/start")
    assert "not a diagnosis" in first[0].text
    assert "Do you agree?" in first[-1].text
    await bot.tap("I agree")
    replies = await bot.tap("UK (London)")
    assert "999" in replies[0].text  # the emergency number follows the zone
    replies = await bot.tap("19:00")
    assert "Daily check-in at 19:00 (Europe/London)" in replies[0].text
    assert "Do you have any of these right now?" in replies[-1].text
    with bot.coach.engine.connect() as db:
        row = db.execute(
            sa.text("select timezone, checkin_time, consent_version, consent_at from person")
        ).one()
    assert row[0] == "Europe/London" and str(row[1]).startswith("19:00")
    assert row[2] and row[3] is not None


async def test_full_symptom_check_by_taps_schedules_the_plan(bot: BotHarness) -> None:
    await bot.onboard()
    replies = await bot.symptom_check(SELF_CARE_CHECK)
    texts = "\n".join(m.text or "" for m in replies)
    assert "nothing you told me needs a doctor right now" in texts
    assert "First 48 hours" in texts
    assert "first check-in is tomorrow" in texts
    with bot.coach.engine.connect() as db:
        kinds = db.execute(
            sa.text(
                "select kind, local_date from followup where status = 'pending' order by due_at"
            )
        ).all()
    assert ("checkin", START.date() + timedelta(days=1)) in [(k, _as_date(d)) for k, d in kinds]


async def test_emergency_sign_answers_with_the_number_first_and_stops_the_plan(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    replies = await bot.tap("Numb around genitals")
    assert replies[0].text.splitlines()[0].startswith("Call 999 now")
    assert "I've been seen by a clinician" in [label for label, _ in replies[0].buttons()]
    with bot.coach.engine.connect() as db:
        status = db.execute(sa.text("select status, tier from episode")).one()
        pending = db.execute(sa.text("select count(*) from followup where status='pending'"))
        decision = db.execute(sa.text("select rule, tier from decision")).all()
    assert status == ("halted_emergency", 3)
    assert pending.scalar_one() == 0
    assert ("saddle_numbness", 3) in decision


async def test_next_days_checkin_arrives_at_the_chosen_local_time(bot: BotHarness) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    await bot.advance_to(at(2, 18, 59))
    assert not any("Time for your check-in" in (m.text or "") for m in bot.messages())
    report = await bot.advance_to(at(2, 19, 0))
    assert report.sent == 1
    checkin = bot.messages()[-1]
    assert "Time for your check-in (day 2)" in (checkin.text or "")
    assert "None of these" in [label for label, _ in checkin.buttons()]


async def test_multi_day_journey_without_improvement_prompts_doctor_by_day_3(
    bot: BotHarness,
) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    for day in (2, 3):
        await bot.advance_to(at(day, 19, 0))
        await bot.tap("None of these")
        await bot.say("6")  # a typed pain score is taken
        await bot.tap("Same")
        replies = await bot.tap("Ice/heat and walks")
        if day == 3:
            replies = await bot.tap("No change")  # the day-3 global impression of change
    text = "\n".join(m.text or "" for m in replies)
    assert "book a doctor, physiotherapist or pharmacist" in text
    assert "a few days without meaningful improvement" in text
    assert "6 → 6 → 6" in text  # what to tell the doctor: the pain trend


async def test_restart_mid_plan_sends_the_next_followup_once(sqlite_url: str) -> None:
    first = BotHarness(database_url=sqlite_url, token=TOKEN)
    await first.start()
    await first.onboard()
    await first.symptom_check(SELF_CARE_CHECK)
    api, clock = first.api, first.clock
    first._own_api = False  # keep the stand-in alive across the restart
    await first.stop()

    second = BotHarness(database_url=sqlite_url, token=TOKEN, api=api, clock=clock)
    await second.start()
    try:
        await second.advance_to(at(2, 19, 0))
        await second.advance(timedelta(minutes=1))
        checkins = [m for m in second.messages() if "Time for your check-in" in (m.text or "")]
        assert len(checkins) == 1
        replies = await second.tap("None of these")
        assert "How bad is the pain" in (replies[-1].text or "")
    finally:
        await second.stop()
        await api.stop()


async def test_restart_in_the_middle_of_the_symptom_check_resumes_it(sqlite_url: str) -> None:
    first = BotHarness(database_url=sqlite_url, token=TOKEN)
    await first.start()
    await first.onboard()
    await first.symptom_check(["None of these", "Lower back"])
    api, clock = first.api, first.clock
    first._own_api = False
    await first.stop()
    second = BotHarness(database_url=sqlite_url, token=TOKEN, api=api, clock=clock)
    await second.start()
    try:
        replies = await second.tap("Today")  # the onset question, still on screen
        assert "What set it off?" in (replies[-1].text or "")
    finally:
        await second.stop()
        await api.stop()


def _as_date(value: object) -> object:
    return datetime.fromisoformat(str(value)).date() if isinstance(value, str) else value


async def test_changing_the_checkin_time_moves_the_pending_checkin(bot: BotHarness) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    await bot.say("/settings")
    await bot.tap("Change check-in time")
    replies = await bot.say("20:30")
    assert "Daily check-in at 20:30" in (replies[0].text or "")
    await bot.advance_to(at(2, 19, 30))
    assert not any("Time for your check-in" in (m.text or "") for m in bot.messages())
    report = await bot.advance_to(at(2, 20, 30))
    assert report.sent == 1 and "Time for your check-in" in (bot.messages()[-1].text or "")


async def test_changing_the_zone_recomputes_due_instants(bot: BotHarness) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    await bot.say("/settings")
    await bot.tap("Change time zone")
    replies = await bot.say("New York")
    assert "America/New_York" in (replies[0].text or "") and "911" in (replies[0].text or "")
    new_york = ZoneInfo("America/New_York")
    await bot.advance_to(at(2, 22, 59))  # 19:00 London has passed, 18:59 in New York
    assert not any("Time for your check-in" in (m.text or "") for m in bot.messages())
    evening = datetime(2026, 3, 24, 19, 0, tzinfo=new_york)
    report = await bot.advance_to(evening)
    assert report.sent == 1 and "Time for your check-in" in (bot.messages()[-1].text or "")


async def test_pause_stops_followups_and_resume_brings_them_back(bot: BotHarness) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    await bot.say("/pause")
    await bot.advance_to(at(3, 21, 0))
    assert not any("Time for your check-in" in (m.text or "") for m in bot.messages())
    replies = await bot.say("/resume")
    assert "next check-in at 19:00" in (replies[0].text or "")
    report = await bot.advance_to(at(4, 19, 0))
    assert report.sent >= 1 and "Time for your check-in (day 4)" in (bot.messages()[-1].text or "")


async def test_unanswered_checkin_gets_one_reminder(bot: BotHarness) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    await bot.advance_to(at(2, 19, 0))
    await bot.advance_to(at(2, 21, 0))
    await bot.advance_to(at(2, 21, 59))
    reminders = [m for m in bot.messages() if "gentle reminder" in (m.text or "")]
    assert len(reminders) == 1


async def test_after_silent_days_the_coach_asks_whether_to_continue(bot: BotHarness) -> None:
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    for day in (2, 3, 4, 5):  # four check-ins in a row go unanswered
        await bot.advance_to(at(day, 19, 0))
        await bot.advance_to(at(day, 21, 30))
    last = bot.messages()[-1]
    assert "I haven't heard from you for a few days" in (last.text or "")
    await bot.advance_to(at(7, 21, 0))  # nothing more is sent until they answer
    assert bot.messages()[-1].message_id == last.message_id
    replies = await bot.tap("Yes, keep going", message=last)
    assert "I'll carry on" in (replies[0].text or "")
    report = await bot.advance_to(at(8, 19, 0))
    assert report.sent >= 1 and "Time for your check-in" in (bot.messages()[-1].text or "")
