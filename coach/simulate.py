"""`coach simulate`: replay example journeys through the real coach on a simulated clock.

No token and no network: the same conversation engine, storage and dispatcher the bot uses, with a
throwaway SQLite file and a courier that prints instead of calling Telegram. This is how a clinician
reviews every message and how a newcomer sees the coach work.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from coach.clock import ManualClock
from coach.coaching.conversation import Coach
from coach.coaching.replies import Choice, Inbound, Tap, UserRef
from coach.content.languages import LANGUAGES, REFERENCE, load_languages, localised
from coach.pipeline.courier import Courier
from coach.pipeline.dispatcher import Dispatcher
from coach.pipeline.service import CoachService
from coach.places import country_for_zone
from coach.scripted import ScriptedPerson, Shown
from coach.settings import Settings
from coach.storage import repository as repo
from coach.storage.database import create_db_engine, migrate, unit_of_work
from coach.storage.models import Episode, OutboxMessage

CheckinAnswers = dict[str, str]
# Where a replay in each language takes place (`coach simulate --lang de`: Berlin, 112, 116117).
HOME_ZONES = {"es": "Europe/Madrid", "de": "Europe/Berlin", "fr": "Europe/Paris"}


@dataclass
class Journey:
    name: str
    description: str
    symptom_check: dict[str, str]
    # Answers to the check-in of each plan day (day 1 = onset); a day missing stays silent.
    checkins: dict[int, CheckinAnswers]
    zone: str = "Europe/London"
    checkin_time: str = "19:00"
    start_local: datetime = datetime(2026, 3, 23, 10, 0)
    days: int = 8


def _checkin(pain: int, change: str = "same", emergency: str = "none") -> CheckinAnswers:
    return {
        "emergency": emergency,
        "pain": str(pain),
        "change": change,
        "managed": "both",
        "pgic": "minimally_improved",
        "activities": "yes",
    }


SELF_CHECK = {
    "emergency": "none",
    "location": "lower_back",
    "onset": "0",
    "trigger": "lifting",
    "urgent": "none",
    "soon": "none",
    "age": "under50",
}

JOURNEYS: tuple[Journey, ...] = (
    Journey(
        "improving",
        "Lifting strain, pain 6, easing steadily over a week.",
        {**SELF_CHECK, "pain": "6"},
        {
            2: _checkin(5, "better"),
            3: _checkin(4, "better"),
            4: _checkin(4),
            5: _checkin(3, "better"),
            6: _checkin(3),
            7: _checkin(2, "better"),
            8: _checkin(2),
        },
    ),
    Journey(
        "persisting",
        "Pain 6 that does not budge: a see-a-doctor prompt by day 3.",
        {**SELF_CHECK, "pain": "6"},
        {d: _checkin(6) for d in range(2, 9)},
    ),
    Journey(
        "worsening",
        "Pain 5 that climbs on consecutive check-ins.",
        {**SELF_CHECK, "pain": "5"},
        {2: _checkin(6, "worse"), 3: _checkin(7, "worse"), 4: _checkin(7), 5: _checkin(6)},
        days=5,
    ),
    Journey(
        "emergency_day4",
        "Improving at first; on day 4 reports numbness around the genitals (saddle area).",
        {**SELF_CHECK, "pain": "6"},
        {
            2: _checkin(5, "better"),
            3: _checkin(4, "better"),
            4: _checkin(4, emergency="saddle_numbness"),
        },
        days=6,
    ),
    Journey(
        "recovery",
        "Pain 4 that settles to 0-1 on two check-ins: recovered, prevention, episode closed.",
        {**SELF_CHECK, "pain": "4"},
        {2: _checkin(3, "better"), 3: _checkin(1, "better"), 4: _checkin(0, "better")},
        days=9,
    ),
)


@dataclass
class Transcript:
    lines: list[str] = field(default_factory=list)
    # Called with each line as it happens (`coach simulate` prints the journey as it goes).
    echo: Callable[[str], None] | None = None

    def add(self, line: str) -> None:
        self.lines.append(line)
        if self.echo is not None:
            self.echo(line)


@dataclass(frozen=True)
class _Delivered:
    """The simulator's handle on a message it delivered: its id and its buttons."""

    message_id: int
    choices: tuple[Choice, ...]


class JourneyRunner:
    """Plays one journey through the coach in this process, as a scripted person
    (coach/scripted.py) would: taps buttons by their labels, types commands, lets days pass.

    It is the person's channel too: the coach's service and courier, with a sender that
    records each message instead of calling Telegram (and an edit takes an answered question's
    buttons away, as in Telegram)."""

    def __init__(
        self,
        journey: Journey,
        workdir: Path,
        content_dir: Path | None = None,
        echo: Callable[[str], None] | None = None,
        language: str = REFERENCE,
    ) -> None:
        self.journey = journey
        # A replay in another language lives where that language is spoken (its emergency
        # number and same-day services); English keeps the journey's own zone.
        zone = HOME_ZONES.get(language, journey.zone)
        journey = self.journey = replace(journey, zone=zone)
        self.zone = ZoneInfo(journey.zone)
        self.clock = ManualClock(journey.start_local.replace(tzinfo=self.zone))
        url = f"sqlite:///{workdir / f'{journey.name}.sqlite3'}"
        migrate(url)
        self.settings = Settings(database_url=url, default_timezone=journey.zone)
        if content_dir is not None:
            self.settings.content_dir = content_dir
        self.engine = create_db_engine(url)
        content = load_languages(self.settings.content_dir)
        self.coach = Coach(
            engine=self.engine, content=content, clock=self.clock, settings=self.settings
        )
        self.service = CoachService(coach=self.coach, clock=self.clock)
        self.courier = Courier(
            engine=self.engine,
            sender=self,
            clock=self.clock,
            on_blocked=self.service.mark_blocked,
            per_chat_interval=0,  # simulated time: no pacing waits
            sleep=self._simulated_sleep,
        )
        self.dispatcher = Dispatcher(service=self.service, courier=self.courier, clock=self.clock)
        self.user = UserRef(user_id=1000, chat_id=1000, language_code=language)
        content = localised(content, language, country_for_zone(journey.zone))
        self.transcript = Transcript(echo=echo)
        self.shown: list[Shown] = []
        self.answered: set[int] = set()  # messages whose buttons an edit took away
        self.next_id = 1
        self.person = ScriptedPerson(self, content)

    # -- the channel: what the person receives
    def stamp(self) -> str:
        local = self.clock.now().astimezone(self.zone)
        return local.strftime("%a %d %b %H:%M")

    async def send(self, message: OutboxMessage) -> int:
        """The courier's sender: record what the person would receive."""
        if message.kind == "edit" and message.edit_message_id is not None:
            if not message.buttons:  # the answered question loses its buttons
                self.answered.add(message.edit_message_id)
                return message.edit_message_id
            message_id = message.edit_message_id  # the next question in the answered one's place
        else:
            self.next_id += 1
            message_id = self.next_id
            if message.kind != "text":
                return message_id
        choices = tuple(Choice.from_stored(cell) for row in message.buttons for cell in row)
        self.shown.append(
            Shown(message.text, tuple(c.label for c in choices), _Delivered(message_id, choices))
        )
        in_place = " (in place of the question answered)" if message.kind == "edit" else ""
        self.transcript.add(f"[{self.stamp()}] COACH{in_place}:")
        self.transcript.add("    " + message.text.replace("\n", "\n    "))
        for row in message.buttons:
            self.transcript.add("    " + "  ".join(f"[{cell[0]}]" for cell in row))
        return message_id

    def now(self) -> datetime:
        return self.clock.now()

    def received(self) -> list[Shown]:
        return self.shown

    def live(self, shown: Shown) -> bool:
        assert isinstance(shown.handle, _Delivered)
        return shown.handle.message_id not in self.answered

    async def _simulated_sleep(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))

    async def _handle(self, inbound: Inbound) -> None:
        # As the Telegram runtime does: one unit of work, then the reply it handed over.
        hand_off = self.courier.new_hand_off()
        handled = self.service.handle(inbound, hand_off)
        await self.courier.deliver_chat(self.user.chat_id, handled.handed, hand_off)

    # -- the channel: what the person does
    async def type(self, text: str) -> None:
        self.transcript.add(f"[{self.stamp()}] PERSON: {text}")
        if text.startswith("/"):
            await self._handle(Inbound("command", self.user, text=text[1:]))
        else:
            await self._handle(Inbound("text", self.user, text=text))

    async def press(self, shown: Shown, label: str) -> None:
        delivered = shown.handle
        assert isinstance(delivered, _Delivered)
        choice = next(c for c in delivered.choices if c.label == label)
        self.transcript.add(f"[{self.stamp()}] PERSON taps: {label}")
        tap = Tap(choice.token, choice.value, choice.action)
        await self._handle(
            Inbound(
                "button",
                self.user,
                tap=tap,
                message_id=delivered.message_id,
                message_text=shown.text,
            )
        )

    async def let_time_pass(self, until: datetime) -> None:
        self.clock.set(max(until, self.clock.now()))
        await self.dispatcher.run_once()

    # -- the journey
    def labels(self, answers: Mapping[str, str]) -> dict[str, str]:
        return {qid: self.person.label(qid, value) for qid, value in answers.items()}

    def episode(self) -> Episode | None:
        with unit_of_work(self.engine) as session:
            person = repo.person_by_telegram_id(session, self.user.user_id)
            return repo.latest_episode(session, person) if person is not None else None

    async def run(self) -> Transcript:
        j = self.journey
        self.transcript.add(f"=== Journey: {j.name} — {j.description}")
        await self.person.onboard(
            self.person.label("timezone", j.zone), self.person.label("checkin_time", j.checkin_time)
        )
        await self.answer_slowly(j.symptom_check)
        end = self.clock.now() + timedelta(days=j.days)
        while True:
            with unit_of_work(self.engine) as session:
                due = repo.next_due_instant(session)
            if due is None or due > end:
                break
            await self.person.wait_until(due)
            qid, _ = self.person.question()
            episode = self.episode()
            if qid is not None and episode is not None and episode.onset_date is not None:
                local_day = self.clock.now().astimezone(self.zone).date()
                day = (local_day - episode.onset_date).days + 1
                answers = j.checkins.get(day)
                if answers is not None:
                    self.clock.advance(timedelta(minutes=5))
                    await self.answer_slowly(answers)
        episode = self.episode()
        status = episode.status if episode else "none"
        self.transcript.add(f"=== End of {j.name}: episode {status}")
        self.engine.dispose()
        return self.transcript

    async def answer_slowly(self, answers: Mapping[str, str]) -> None:
        """Answer each question asked, twenty seconds apart, as the script says."""
        await self.person.answer_while_asked(
            self.labels(answers), before_each=lambda: self.clock.advance(timedelta(seconds=20))
        )


async def simulate_all(
    names: list[str] | None = None,
    echo: Callable[[str], None] | None = None,
    language: str = REFERENCE,
) -> list[Transcript]:
    chosen = [j for j in JOURNEYS if not names or j.name in names]
    transcripts = []
    with tempfile.TemporaryDirectory() as tmp:
        for journey in chosen:
            runner = JourneyRunner(journey, Path(tmp), echo=echo, language=language)
            transcripts.append(await runner.run())
            if echo is not None:
                echo("")
    return transcripts


def run_simulation(names: list[str] | None = None, language: str = REFERENCE) -> int:
    if language not in LANGUAGES:
        print(
            f"coach: unknown language {language!r}; choose from: {', '.join(LANGUAGES)}",
            file=sys.stderr,
        )
        return 2
    known = {j.name for j in JOURNEYS}
    unknown = [n for n in names or [] if n not in known]
    if unknown:
        print(
            f"coach: unknown journey {unknown[0]!r}; choose from: {', '.join(sorted(known))}",
            file=sys.stderr,
        )
        return 2
    # Each line is printed as it happens, on simulated time: no real waiting anywhere.
    asyncio.run(simulate_all(names, echo=lambda line: print(line, flush=True), language=language))
    return 0
