"""How much the coach says: a person played through the real bot for ten days, messages counted
per local day.

Day 1 (onboarding, symptom check, plan start) counts every message the person receives; the edit
that marks a tapped answer on its question is not a new message. From day 2 only the unprompted
messages count (the morning steps, one nudge, the check-in): replies to the person's own taps are
answers, not interruptions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
import pytest_asyncio

from tests.conftest import TOKEN
from tests.support.bot_harness import SELF_CARE_CHECK, START, BotHarness
from tests.support.botapi_standin import SentMessage

SENT = ("sendMessage", "sendPhoto", "sendDocument")
# Pain at each day's check-in: easing from 6 without reaching recovery (0-1) within ten days.
PAIN_BY_DAY = {2: 5, 3: 4, 4: 4, 5: 3, 6: 3, 7: 2, 8: 2, 9: 2, 10: 2}
PLAN_DAYS = 10
pytestmark = pytest.mark.asyncio(loop_scope="module")
# The one answer this person gives to each check-in question, by a button it offers.
ANSWERS = ("None of these", "Better", "Ice/heat and walks", "A little improved", "Yes, mostly")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """Local London time on plan day `day` (day 1 = the day the harness starts)."""
    base = START.date() + timedelta(days=day - 1)
    return datetime(base.year, base.month, base.day, hour, minute, tzinfo=START.tzinfo)


def sent(bot: BotHarness) -> list[SentMessage]:
    return bot.api.messages_to(424242, methods=SENT)


@dataclass
class Day:
    unprompted: list[SentMessage] = field(default_factory=list)
    replies: list[SentMessage] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.unprompted) + len(self.replies)


@dataclass
class Journey:
    days: dict[int, Day]

    def counts(self) -> str:
        return ", ".join(
            f"day {d}: {day.total} ({len(day.unprompted)} unprompted)"
            for d, day in sorted(self.days.items())
        )


async def answer_checkin(bot: BotHarness, day: int) -> list[SentMessage]:
    """Tap through the open check-in the way an improving person would."""
    replies: list[SentMessage] = []
    for _ in range(10):
        last = bot.messages()[-1]  # the question on screen (it may have taken an old one's place)
        labels = [label for label, _ in last.buttons()]
        if "Check in now" in labels or not labels:
            return replies
        if "10" in labels:
            replies += await bot.tap(str(PAIN_BY_DAY[day]), message=last)
            continue
        choice = next(a for a in ANSWERS if a in labels)
        replies += await bot.tap(choice, message=last)
    raise AssertionError(f"the day {day} check-in never ended: {bot.api.dump()}")


async def play_ten_days(bot: BotHarness) -> Journey:
    days = {1: Day()}
    before = len(sent(bot))
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    days[1].replies = sent(bot)[before:]
    for day in range(1, PLAN_DAYS + 1):
        today = days.setdefault(day, Day())
        # Every quarter of an hour through the waking day, the dispatcher sends what is due.
        moment = local(day, 7, 0) if day > 1 else bot.clock.now()
        while moment < local(day, 22, 0):
            before = len(sent(bot))
            await bot.advance_to(moment)
            arrived = sent(bot)[before:]
            today.unprompted += arrived
            if any(label == "None of these" for m in arrived for label, _ in m.buttons()):
                today.replies += await answer_checkin(bot, day)
            moment += timedelta(minutes=15)
    return Journey(days)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def journey(tmp_path_factory: pytest.TempPathFactory) -> Journey:
    """One ten-day journey through the real bot, read by every test below."""
    path = tmp_path_factory.mktemp("volume") / "coach.sqlite3"
    bot = BotHarness(database_url=f"sqlite:///{path}", token=TOKEN)
    await bot.start()
    try:
        return await play_ten_days(bot)
    finally:
        await bot.stop()


def texts(messages: list[SentMessage]) -> list[str]:
    return [m.text or "" for m in messages]


def labels(message: SentMessage) -> list[str]:
    return [label for label, _ in message.buttons()]


def morning(journey: Journey, day: int) -> str:
    return next(t for t in texts(journey.days[day].unprompted) if "Good morning" in t)


def walk(journey: Journey, day: int) -> str:
    return next(
        t for t in texts(journey.days[day].unprompted) if t.startswith("Time for") and "walk" in t
    )


def closing(journey: Journey, day: int) -> str:
    """The coach's last word on the day's check-in."""
    return texts(journey.days[day].replies)[-1]


def questions_asked(journey: Journey, day: int, button: str) -> list[SentMessage]:
    messages = journey.days[day].unprompted + journey.days[day].replies
    return [m for m in messages if button in labels(m)]


async def test_day_one_sends_at_most_eight_messages(journey: Journey) -> None:
    assert journey.days[1].total <= 8, journey.counts()


async def test_day_one_sends_only_the_questions_and_the_plan(journey: Journey) -> None:
    day = journey.days[1]
    assert day.unprompted == [], texts(day.unprompted)  # the plan was just shown: no nudges
    *questions, plan = day.replies
    # Consent, time zone, check-in time, and the symptom check: its eight questions each take
    # the answered one's place in a single message.
    assert len(questions) == 4, journey.counts()
    assert all(labels(q) for q in questions), texts(questions)
    plan_text = plan.text or ""
    assert "First 48 hours" in plan_text and "first check-in is tomorrow" in plan_text


async def test_later_days_send_at_most_three_unprompted_messages(journey: Journey) -> None:
    for number in range(2, PLAN_DAYS + 1):
        day = journey.days[number]
        said = texts(day.unprompted)
        assert len(day.unprompted) <= 3, f"day {number}: {said}\n{journey.counts()}"
        # ...and none of them is lost: the morning steps, a walk and the check-in each day.
        assert any("Good morning" in t for t in said), f"day {number}: {said}"
        assert any("walk" in t.lower() for t in said), f"day {number}: {said}"
        assert any("check-in" in t for t in said), f"day {number}: {said}"


async def test_the_morning_message_gives_todays_few_steps_not_the_whole_plan(
    journey: Journey,
) -> None:
    for day in range(2, PLAN_DAYS + 1):
        text = morning(journey, day)
        assert 2 <= text.count("• ") <= 3, text
        assert len(text) < 450, (len(text), text)
    assert "Cold pack" in morning(journey, 2) or "cold pack" in morning(journey, 2)
    assert "heat" in morning(journey, 5).lower()


async def test_the_switch_to_heat_is_announced_once_on_its_day(journey: Journey) -> None:
    announced = [
        day
        for day in range(2, PLAN_DAYS + 1)
        if "switch from cold to heat" in morning(journey, day).lower()
    ]
    assert announced == [3]
    for day in range(4, PLAN_DAYS + 1):
        assert "switch" not in morning(journey, day).lower(), morning(journey, day)


async def test_walks_grow_with_the_days(journey: Journey) -> None:
    assert "5 to 10 minutes" in walk(journey, 2)
    minutes = [
        int(re.search(r"(\d+) minutes", walk(journey, day)).group(1))  # type: ignore[union-attr]
        for day in range(3, PLAN_DAYS + 1)
    ]
    assert minutes[:5] == sorted(set(minutes[:5])), minutes  # longer each day of the first week
    assert minutes[0] >= 10 and max(minutes) <= 30, minutes
    for day in range(3, PLAN_DAYS + 1):
        assert "5 to 10" not in walk(journey, day) + morning(journey, day)


async def test_progress_is_acknowledged_in_words(journey: Journey) -> None:
    assert "down from 6 to 2: that's real progress" in closing(journey, 7)
    a_little = closing(journey, 2)  # 6 → 5 is not yet a meaningful change
    assert "a little lower" in a_little and "real progress" not in a_little


async def test_the_pain_scale_is_explained_once_at_each_checkin(journey: Journey) -> None:
    for day in range(2, PLAN_DAYS + 1):
        (pain_question,) = questions_asked(journey, day, "10")
        assert (pain_question.text or "").count("worst imaginable") == 1, pain_question.text


async def test_the_accident_question_is_asked_only_at_the_first_check(journey: Journey) -> None:
    (first,) = questions_asked(journey, 1, "Chest pain or breathless")
    assert "Started after a serious accident" in labels(first)
    for day in range(2, PLAN_DAYS + 1):
        (rescreen,) = questions_asked(journey, day, "Chest pain or breathless")
        assert "Started after a serious accident" not in labels(rescreen)
        # Every sign that can appear later is still asked, every day.
        assert len(labels(rescreen)) == len(labels(first)) - 1, labels(rescreen)
