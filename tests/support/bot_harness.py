"""The real python-telegram-bot Application, run against the Bot API stand-in on loopback.

Time is a ManualClock: tests move it and then let the real dispatcher send what fell due.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.ext import Application

from coach.clock import ManualClock
from coach.coaching.conversation import Coach
from coach.pipeline.dispatcher import DispatchReport
from coach.scripted import ScriptedPerson, Shown
from coach.settings import Settings
from coach.storage.database import migrate
from coach.telegram_adapter.app import ALLOWED_UPDATES, build_application
from coach.telegram_adapter.polling import Poller
from coach.telegram_adapter.runtime import CoachRuntime
from tests.support.botapi_standin import BotApiStandIn, SentMessage

USER_ID = 424242


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """Local London time on plan day `day` (day 1 = the day the harness starts)."""
    base = START.date() + timedelta(days=day - 1)
    return datetime(base.year, base.month, base.day, hour, minute, tzinfo=START.tzinfo)


# The symptom check of a person with no red flags, pain 6 (self-care), tapped label by label.
SELF_CARE_CHECK = (
    "None of these",  # emergency signs
    "Lower back",
    "Today",
    "Lifting or bending",
    "6",
    "None of these",  # same-day-doctor signs
    "None of these",  # one leg numb / low mood
    "Under 50",
)
# A Monday morning in London, a few days before the clocks go forward (29 March 2026).
START = datetime(2026, 3, 23, 10, 0, tzinfo=ZoneInfo("Europe/London"))


def shows_a_message(record: SentMessage) -> bool:
    """A text message, or an edit that puts a new question (with buttons) in an old one's place;
    not the edit that only marks an answered question."""
    if record.method == "sendMessage":
        return True
    return record.method == "editMessageText" and bool(record.buttons())


class TelegramChannel:
    """One person's side of the real bot, for a `ScriptedPerson` (coach/scripted.py): what they
    received from the stand-in since the channel was opened, and taps and texts as updates."""

    def __init__(self, bot: BotHarness, user_id: int = USER_ID) -> None:
        self.bot = bot
        self.user_id = user_id
        self.first_record = len(bot.api.sent)

    def now(self) -> datetime:
        return self.bot.clock.now()

    def received(self) -> list[Shown]:
        return [
            Shown(m.rendered_text or m.text or "", tuple(t for t, d in m.buttons() if d), m)
            for m in self.bot.api.sent[self.first_record :]
            if m.chat_id == self.user_id and shows_a_message(m)
        ]

    def live(self, shown: Shown) -> bool:
        assert isinstance(shown.handle, SentMessage)
        payload = self.bot.api.current_message(self.user_id, shown.handle.message_id)
        return bool((payload.get("reply_markup") or {}).get("inline_keyboard"))

    async def type(self, text: str) -> None:
        await self.bot.say(text, self.user_id)

    async def press(self, shown: Shown, label: str) -> None:
        assert isinstance(shown.handle, SentMessage)
        await self.bot.tap(label, self.user_id, shown.handle)

    async def let_time_pass(self, until: datetime) -> None:
        await self.bot.advance_to(until)


class BotHarness:
    def __init__(
        self,
        *,
        database_url: str,
        token: str,
        api: BotApiStandIn | None = None,
        clock: ManualClock | None = None,
        **settings: Any,
    ) -> None:
        self.database_url = database_url
        self.token = token
        self.api = api or BotApiStandIn(token=token)
        self._own_api = api is None
        self.clock = clock or ManualClock(START)
        self.settings_overrides = settings
        self.application: Application | None = None  # type: ignore[type-arg]
        self.injected = 0
        self.processed = 0
        self.poller: Poller | None = None
        self.poll_retries = 0

    @property
    def runtime(self) -> CoachRuntime:
        assert self.application is not None
        runtime = self.application.bot_data["runtime"]
        assert isinstance(runtime, CoachRuntime)
        return runtime

    @property
    def coach(self) -> Coach:
        return self.runtime.coach

    async def start(self) -> None:
        if self._own_api:
            await self.api.start()
        settings = Settings(
            database_url=self.database_url,
            bot_api_url=self.api.root_url,
            dispatch_interval_seconds=3600,  # tests wake the dispatcher themselves
            **{
                "http_listen": "127.0.0.1:0",  # /healthz and /metrics on a free port
                "flood_max_updates": 10_000,  # scripted people tap faster than anyone
                "per_chat_interval_seconds": 0,  # pacing has its own test; no real waits here
                "global_rate_per_second": 1000,  # loopback stand-in; rate_limited bench covers 30/s
                **self.settings_overrides,
            },
        )
        migrate(settings.resolved_database_url)
        self.application = build_application(settings, self.token, clock=self.clock)
        # The test drives the dispatcher on its manual clock; the scheduler's own tick would run
        # a second courier on real time, and a clock jump under it would expire its leases.
        assert self.application.job_queue is not None
        for job in self.application.job_queue.jobs():
            job.schedule_removal()
        self.runtime.on_processed = self._count_processed
        # Waits the coach asks for (a 429's retry_after, a retry's backoff) pass on the manual
        # clock: the test's time, never a real sleep.
        self.runtime.courier.sleep = self._wait_on_clock
        await self.application.initialize()
        if self.application.post_init:
            await self.application.post_init(self.application)
        await self.application.start()
        self.poller = Poller(
            self.runtime,
            allowed_updates=ALLOWED_UPDATES,
            poll_timeout=1,
            sleep=self._poll_retry_wait,
        )
        self.poller.start()

    async def _poll_retry_wait(self, seconds: float) -> None:
        # The poller's backoff while the database or Telegram is away: a short real pause
        # (the outage is real too), counted so tests can wait for "it tried again".
        self.poll_retries += 1
        self.api.notify()
        await asyncio.sleep(0.05)

    async def _wait_on_clock(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        await asyncio.sleep(0)

    async def stop(self) -> None:
        """Stop this bot process's state (a restart keeps the database and the stand-in)."""
        if self.application is not None:
            if self.poller is not None:
                await self.poller.stop()
                self.poller = None
            if self.application.running:
                await self.application.stop()
            await self.application.shutdown()
            if self.application.post_shutdown:
                await self.application.post_shutdown(self.application)
            self.application = None
        if self._own_api:
            await self.api.stop()

    def _count_processed(self, update: Update) -> None:
        self.processed += 1
        self.api.notify()  # wake anyone waiting on the stand-in

    async def settled(self) -> None:
        """Wait until every update injected so far has been fully handled by the bot."""
        await self.api.wait_for(
            lambda: self.processed >= self.injected,
            timeout=10,
            what="the bot to handle every update",
        )

    def inject(self, update: dict[str, Any]) -> None:
        self.api.user_sends_update(update)
        self.injected += 1

    # -- the person's side
    def messages(self, user_id: int = USER_ID) -> list[SentMessage]:
        """What the person was shown, in order: each text message, and each next question put
        in the place of the answered one (an edit that brings new buttons)."""
        return [m for m in self.api.messages_to(user_id) if shows_a_message(m)]

    async def say(self, text: str, user_id: int = USER_ID) -> list[SentMessage]:
        """Send text; return every message the bot sent in answer."""
        before = len(self.messages(user_id))
        self.api.user_sends_text(user_id, text)
        self.injected += 1
        await self.settled()
        return self.messages(user_id)[before:]

    async def tap(
        self, label: str, user_id: int = USER_ID, message: SentMessage | None = None
    ) -> list[SentMessage]:
        """Tap the button containing `label` on the latest message that has one (or `message`)."""
        target = message or self.message_with_button(label, user_id)
        before = len(self.messages(user_id))
        self.api.user_taps(user_id, target.message_id, target.button_data(label))
        self.injected += 1
        await self.settled()
        return self.messages(user_id)[before:]

    async def send_raw(self, builder: str, *args: Any, user_id: int = USER_ID) -> list[SentMessage]:
        """Inject an update built by a stand-in helper (e.g. "user_sends_sticker")."""
        before = len(self.messages(user_id))
        getattr(self.api, builder)(user_id, *args)
        self.injected += 1
        await self.settled()
        return self.messages(user_id)[before:]

    def message_with_button(self, label: str, user_id: int = USER_ID) -> SentMessage:
        seen: set[int] = set()
        for message in reversed(self.messages(user_id)):
            if message.message_id in seen:
                continue  # a later question took this message's place
            seen.add(message.message_id)
            if any(label in text for text, _ in message.buttons()):
                return message
        raise AssertionError(f"no message with a button {label!r}; got {self.api.dump()}")

    def person(self, user_id: int = USER_ID) -> ScriptedPerson:
        """A scripted person (coach/scripted.py) talking to this bot."""
        return ScriptedPerson(TelegramChannel(self, user_id), self.coach.content)

    async def onboard(
        self, user_id: int = USER_ID, zone_label: str = "UK (London)", time_label: str = "19:00"
    ) -> None:
        await self.person(user_id).onboard(zone_label, time_label)

    async def symptom_check(
        self, answers: Sequence[str], user_id: int = USER_ID
    ) -> list[SentMessage]:
        """Tap through the symptom check; returns the messages after the last tap."""
        replies: list[SentMessage] = []
        for label in answers:
            replies = await self.tap(label, user_id)
        return replies

    # -- time
    async def advance_to(self, local: datetime) -> DispatchReport:
        """Move the clock (never backwards) and let the real dispatcher send what is due."""
        self.clock.set(max(self.clock.now(), local))
        return await self.runtime.dispatch()

    async def advance(self, delta: timedelta) -> DispatchReport:
        self.clock.advance(delta)
        return await self.runtime.dispatch()


async def three_days_without_improvement(bot: BotHarness) -> list[SentMessage]:
    """Onboard, a self-care check at pain 6, then check-ins on days 2 and 3 at 6: the SOON
    advice (pain not better after a few days). Returns the last messages."""
    await bot.onboard()
    await bot.symptom_check(SELF_CARE_CHECK)
    replies: list[SentMessage] = []
    for day in (2, 3):
        await bot.advance_to(at(day, 19, 0))
        await bot.tap("None of these")
        await bot.tap("6")
        await bot.tap("Same")
        replies = await bot.tap("Ice/heat and walks")
        if day == 3:
            replies = await bot.tap("No change")
    return replies
