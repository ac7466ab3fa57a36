"""`coach simulate`: replay example journeys through the real coach on a simulated clock.

No token and no network: the same conversation engine, storage and dispatcher the bot uses, with a
throwaway SQLite file and a courier that prints instead of calling Telegram. This is how a clinician
reviews every message and how a newcomer sees the coach work.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from coach.clock import ManualClock
from coach.coaching.conversation import Coach
from coach.coaching.replies import Choice, Inbound, Reply, Tap, UserRef
from coach.content import load_content
from coach.pipeline.courier import Courier
from coach.pipeline.dispatcher import Dispatcher
from coach.pipeline.service import CoachService
from coach.settings import Settings
from coach.storage import repository as repo
from coach.storage.database import create_db_engine, migrate, unit_of_work
from coach.storage.models import Episode, OutboxMessage, Person

CheckinAnswers = dict[str, str]


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


class PrintingSender:
    """The simulator's transport: records what the person would receive."""

    def __init__(self, runner: JourneyRunner) -> None:
        self.runner = runner
        self.next_id = 1

    async def send(self, message: OutboxMessage) -> int:
        self.next_id += 1
        if message.kind == "text":
            choices = tuple(
                tuple(Choice.from_stored(cell) for cell in row) for row in message.buttons
            )
            self.runner.receive(Reply(message.text, choices))
        return self.next_id


class JourneyRunner:
    """Drives one person through the coach: taps buttons as a script says, lets days pass."""

    def __init__(
        self,
        journey: Journey,
        workdir: Path,
        content_dir: Path | None = None,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.journey = journey
        self.zone = ZoneInfo(journey.zone)
        self.clock = ManualClock(journey.start_local.replace(tzinfo=self.zone))
        url = f"sqlite:///{workdir / f'{journey.name}.sqlite3'}"
        migrate(url)
        self.settings = Settings(database_url=url, default_timezone=journey.zone)
        if content_dir is not None:
            self.settings.content_dir = content_dir
        self.engine = create_db_engine(url)
        self.coach = Coach(
            engine=self.engine,
            content=load_content(self.settings.content_dir),
            clock=self.clock,
            settings=self.settings,
        )
        self.service = CoachService(coach=self.coach, clock=self.clock)
        self.courier = Courier(
            engine=self.engine,
            sender=PrintingSender(self),
            clock=self.clock,
            on_blocked=self.service.mark_blocked,
            per_chat_interval=0,  # simulated time: no pacing waits
            sleep=self._simulated_sleep,
        )
        self.dispatcher = Dispatcher(service=self.service, courier=self.courier, clock=self.clock)
        self.user = UserRef(user_id=1000, chat_id=1000)
        self.transcript = Transcript(echo=echo)
        self.received: list[Reply] = []

    # -- what the person sees
    def stamp(self) -> str:
        local = self.clock.now().astimezone(self.zone)
        return local.strftime("%a %d %b %H:%M")

    def receive(self, reply: Reply) -> None:
        self.received.append(reply)
        self.transcript.add(f"[{self.stamp()}] COACH:")
        self.transcript.add("    " + reply.text.replace("\n", "\n    "))
        for row in reply.choices:
            self.transcript.add("    " + "  ".join(f"[{c.label}]" for c in row))

    async def _simulated_sleep(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))

    async def _send(self, inbound: Inbound) -> None:
        self.service.handle(inbound)
        await self.courier.deliver_chat(self.user.chat_id)

    # -- what the person does
    async def command(self, name: str) -> None:
        self.transcript.add(f"[{self.stamp()}] PERSON: /{name}")
        await self._send(Inbound("command", self.user, text=name))

    def person(self) -> Person:
        with unit_of_work(self.engine) as session:
            person = repo.person_by_telegram_id(session, self.user.user_id)
            assert person is not None
            return person

    def current_question(self) -> str | None:
        person = self.person()
        return str(person.flow_data.get("qid")) if person.flow else None

    async def tap(self, value: str) -> None:
        person = self.person()
        label = dict(person.flow_data.get("options", [])).get(value, value)
        self.transcript.add(f"[{self.stamp()}] PERSON taps: {label}")
        # The tap answers the question now waiting, as a tap on its latest message would.
        await self._send(Inbound("button", self.user, tap=Tap(person.flow_token, value)))

    async def answer_while_asked(self, answers: dict[str, str]) -> None:
        """Tap the scripted answer to each question the coach asks, until it stops asking."""
        for _ in range(20):
            qid = self.current_question()
            if qid is None or qid not in answers:
                return
            self.clock.advance(timedelta(seconds=20))
            await self.tap(answers[qid])

    def episode(self) -> Episode | None:
        with unit_of_work(self.engine) as session:
            return repo.latest_episode(session, self.person())

    async def run(self) -> Transcript:
        j = self.journey
        self.transcript.add(f"=== Journey: {j.name} — {j.description}")
        await self.command("start")
        await self.tap("yes")
        await self.tap(j.zone)
        await self.tap(j.checkin_time)
        await self.answer_while_asked(j.symptom_check)
        end = self.clock.now() + timedelta(days=j.days)
        while True:
            with unit_of_work(self.engine) as session:
                due = repo.next_due_instant(session)
            if due is None or due > end:
                break
            self.clock.set(max(due, self.clock.now()))
            await self.dispatcher.run_once()
            qid = self.current_question()
            episode = self.episode()
            if qid is not None and episode is not None and episode.onset_date is not None:
                local_day = self.clock.now().astimezone(self.zone).date()
                day = (local_day - episode.onset_date).days + 1
                answers = j.checkins.get(day)
                if answers is not None:
                    self.clock.advance(timedelta(minutes=5))
                    await self.answer_while_asked(answers)
        episode = self.episode()
        status = episode.status if episode else "none"
        self.transcript.add(f"=== End of {j.name}: episode {status}")
        self.engine.dispose()
        return self.transcript


async def simulate_all(
    names: list[str] | None = None, echo: Callable[[str], None] | None = None
) -> list[Transcript]:
    chosen = [j for j in JOURNEYS if not names or j.name in names]
    transcripts = []
    with tempfile.TemporaryDirectory() as tmp:
        for journey in chosen:
            transcripts.append(await JourneyRunner(journey, Path(tmp), echo=echo).run())
            if echo is not None:
                echo("")
    return transcripts


def run_simulation(names: list[str] | None = None) -> int:
    known = {j.name for j in JOURNEYS}
    unknown = [n for n in names or [] if n not in known]
    if unknown:
        print(
            f"coach: unknown journey {unknown[0]!r}; choose from: {', '.join(sorted(known))}",
            file=sys.stderr,
        )
        return 2
    # Each line is printed as it happens, on simulated time: no real waiting anywhere.
    asyncio.run(simulate_all(names, echo=lambda line: print(line, flush=True)))
    return 0
