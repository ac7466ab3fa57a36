"""Play triage vignettes through the real bot and score the most urgent advice it gave.

Each vignette (see `vignettes.yaml`) is one person: they go through onboarding and the symptom
check by taps, may type free text, and may answer daily check-ins on later days. The runner plays
the script through a `BotHarness` (the real python-telegram-bot Application against the Bot API
stand-in, a manual clock, a fresh SQLite file per vignette) and reads back what the bot said.

Scoring follows CLINICAL.md: the most urgent advice the bot actually gave counts. The tier is read
from the advice texts the person received, and cross-checked against the `episode.tier` column.
A vignette in which the bot gave no advice at all (it stalled, or the script ended before any
advice) is scored `none`, never SELF: a silent coach must not pass for a correct self-care answer.

Script steps (a list; each step is a mapping with one of these keys):

- ``check: {qid: label, ...}``: answer the symptom-check questions as the bot asks them, by button
  label; questions not named get a reassuring default (see `CHECK_DEFAULTS`). ``upto: qid`` stops
  before that question, so the person can type something there; a later ``check`` carries on.
- ``tap: label``: tap a button of the question on screen (must exist, else the script stalls).
- ``say: text``: type free text.
- ``screen: label``: answer the explicit screening question the bot asks after red-flag words
  (or the emergency/urgent question it shows again): tapped only if the question on screen offers
  that button; if the bot asked nothing, the step is skipped and noted.
- ``day: N`` (optional ``time: "HH:MM"``, default the 19:00 check-in): move the clock day by day
  to plan day N (day 1 = day of onset, as the bot counts) and let the dispatcher send what is due.
- ``checkin: {qid: label, ...}``: answer the check-in questions on screen (emergency re-screen,
  pain, change, managed, and the global-change and daily-activities questions when asked).
  ``pain`` defaults to the previous score, ``change`` and ``pgic`` follow the pain; ``upto: qid``
  pauses before that question, as for ``check``.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import yaml

from coach.clinical.tiers import Tier
from coach.scripted import Stalled
from coach.storage.database import migrate
from tests.support.bot_harness import BotHarness
from tests.support.botapi_standin import BotApiStandIn, SentMessage

ROOT = Path(__file__).resolve().parents[2]
VIGNETTES_FILE = Path(__file__).with_name("vignettes.yaml")
CONTENT_FILE = ROOT / "content" / "en" / "coach.yaml"  # for tests that read labels
TOKEN = "123456789:" + "V" * 35
ZONE = ZoneInfo("Europe/London")
ZONE_LABEL = "UK (London)"
CHECKIN_LABEL = "19:00"
CHECKIN_HOUR = 19
FIRST_USER_ID = 910_000
PERSONAS = frozenset({"plain", "plays_down", "anxious"})
STEP_KINDS = ("check", "tap", "say", "screen", "day", "checkin")

SYMPTOM_CHECK_QIDS = ("emergency", "location", "onset", "trigger", "pain", "urgent", "soon", "age")
CHECKIN_QIDS = ("emergency", "pain", "change", "managed", "pgic", "activities", "soon")
CHECK_DEFAULTS: dict[str, str] = {
    "emergency": "None of these",
    "location": "Lower back",
    "onset": "Today",
    "trigger": "Lifting or bending",
    "pain": "6",
    "urgent": "None of these",
    "soon": "None of these",
    "age": "Under 50",
}
CHECKIN_DEFAULTS: dict[str, str] = {
    "emergency": "None of these",
    "managed": "Ice/heat and walks",
    "activities": "Yes, mostly",
    "soon": "None of these",
}
MAX_TAPS_PER_STEP = 16

# The advice texts (CLINICAL.md tiers), most urgent first. `Call <number> now` is the first line of
# every EMERGENCY message; the emergency-info and crisis texts say "Call <number> or/if ...".
ADVICE_PATTERNS: tuple[tuple[Tier, re.Pattern[str]], ...] = (
    (Tier.EMERGENCY, re.compile(r"^Call \S+ now\b", re.MULTILINE)),
    (Tier.URGENT, re.compile(r"Please see a doctor today")),
    (
        Tier.SOON,
        re.compile(r"Please book a doctor, physiotherapist or pharmacist in the next few days"),
    ),
    (Tier.SELF, re.compile(r"nothing you told me needs a doctor right now")),
)


RED_FLAG_MISSED = "not taken as a red flag"
_REASON = re.compile(r"^(Why: |What you told me |Please |Call \S+ now)")


class VignetteError(ValueError):
    """The vignette file is malformed."""


@dataclass(frozen=True)
class Vignette:
    id: str
    summary: str
    expected: Tier
    persona: str
    script: tuple[Mapping[str, Any], ...]


NO_ADVICE = "NONE"  # how a vignette without any advice shows in the report


@dataclass
class VignetteResult:
    vignette: Vignette
    given: Tier | None  # the most urgent advice the person received; None: no advice at all
    db_tier: Tier | None
    stalled: str | None = None
    notes: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def expected(self) -> Tier:
        return self.vignette.expected

    @property
    def advice_seen(self) -> bool:
        return self.given is not None

    @property
    def given_name(self) -> str:
        return self.given.name if self.given is not None else NO_ADVICE

    @property
    def verdict(self) -> str:
        """`none` (no advice given at all), `under`, `over` or `correct`."""
        if self.given is None:
            return "none"
        if self.given < self.expected:
            return "under"
        if self.given > self.expected:
            return "over"
        return "correct"

    def reached(self, tier: Tier) -> bool:
        """The person was given advice at least as urgent as `tier`."""
        return self.given is not None and self.given >= tier

    @property
    def db_agrees(self) -> bool:
        """The stored `episode.tier` is the tier of the advice texts (no episode never agrees)."""
        return self.db_tier is not None and self.db_tier == self.given

    @property
    def halted_by_bot(self) -> bool:
        """A stalled script is expected once the bot stopped coaching (EMERGENCY or URGENT)."""
        return self.stalled is not None and self.reached(Tier.URGENT)


# ------------------------------------------------------------------------------------ loading


def load_vignettes(path: Path = VIGNETTES_FILE) -> list[Vignette]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = raw.get("vignettes") if isinstance(raw, dict) else raw
    if not isinstance(entries, list) or not entries:
        raise VignetteError(f"{path}: expected a non-empty list of vignettes")
    vignettes: list[Vignette] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"{path.name} entry {index}"
        if not isinstance(entry, dict):
            raise VignetteError(f"{where}: not a mapping")
        missing = {"id", "summary", "expected", "persona", "script"} - set(entry)
        if missing:
            raise VignetteError(f"{where}: missing {sorted(missing)}")
        vid = str(entry["id"])
        if vid in seen:
            raise VignetteError(f"{where}: duplicate id {vid}")
        seen.add(vid)
        try:
            expected = Tier[str(entry["expected"]).upper()]
        except KeyError as exc:
            raise VignetteError(f"{vid}: unknown tier {entry['expected']!r}") from exc
        persona = str(entry["persona"])
        if persona not in PERSONAS:
            raise VignetteError(f"{vid}: persona must be one of {sorted(PERSONAS)}")
        script = entry["script"]
        if not isinstance(script, list) or not script:
            raise VignetteError(f"{vid}: script must be a non-empty list of steps")
        for step in script:
            _check_step(vid, step)
        vignettes.append(Vignette(vid, str(entry["summary"]), expected, persona, tuple(script)))
    return vignettes


_TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _check_step(vid: str, step: object) -> None:
    kinds = [k for k in STEP_KINDS if isinstance(step, dict) and k in step]
    if not isinstance(step, dict) or len(kinds) != 1:
        raise VignetteError(f"{vid}: each step needs exactly one of {STEP_KINDS}: {step}")
    allowed = {
        "check": set(SYMPTOM_CHECK_QIDS) | {"upto"},
        "checkin": set(CHECKIN_QIDS) | {"upto"},
    }.get(kinds[0])
    if allowed is not None:
        answers = step[kinds[0]] or {}
        if not isinstance(answers, dict) or set(answers) - allowed:
            raise VignetteError(f"{vid}: {kinds[0]} answers must be among {sorted(allowed)}")
    if kinds[0] == "day":
        if not isinstance(step["day"], int) or step["day"] < 1:
            raise VignetteError(f"{vid}: day must be a plan day number from 1: {step}")
        if "time" in step and not _TIME_RE.match(str(step["time"])):
            raise VignetteError(f'{vid}: time must be quoted "HH:MM": {step}')
    extra = set(step) - {kinds[0]} - ({"time"} if kinds[0] == "day" else set())
    if extra:
        raise VignetteError(f"{vid}: unknown keys {sorted(extra)} in step {step}")


def tier_of_texts(texts: Iterable[str]) -> Tier | None:
    """The most urgent advice among the texts, or None when no advice was given at all."""
    best: Tier | None = None
    for text in texts:
        for tier, pattern in ADVICE_PATTERNS:
            if pattern.search(text):
                best = tier if best is None else max(best, tier)
                break
    return best


# ------------------------------------------------------------------------------------ playing


class _Stall(Exception):
    """A script step could not be played against what the bot shows."""


class _Player:
    """Plays one vignette against a running harness, as the shared scripted person
    (coach/scripted.py) over the real bot, noting what it sees."""

    def __init__(self, bot: BotHarness, user_id: int) -> None:
        self.bot = bot
        self.api = bot.api
        self.user_id = user_id
        self.person = bot.person(user_id)
        content = self.person.content
        self.screen_intro = content.ui("screen_intro")
        self.button_expected = content.ui("button_expected")
        self.notes: list[str] = []
        self.transcript: list[str] = []
        self.last_pain: int | None = None
        self.baseline: int | None = None

    # -- low level
    def sent(self) -> list[SentMessage]:
        """What the bot sent this person (the stand-in's record is shared across vignettes)."""
        return [shown.handle for shown in self.person.channel.received()]  # type: ignore[misc]

    def _log_since(self, before: int) -> list[SentMessage]:
        new = self.sent()[before:]
        for message in new:
            lines = (message.rendered_text or message.text or "").strip().splitlines()
            self.transcript.append(f"  < {lines[0] if lines else ''}")
            # The reason given with any advice, wherever it sits in a merged message.
            self.transcript.extend(f"  <   {line}" for line in lines[1:] if _REASON.match(line))
        return new

    async def say(self, text: str) -> list[SentMessage]:
        before = len(self.sent())
        self.transcript.append(f"  > {text!r}")
        await self.person.say(text)
        return self._log_since(before)

    def current_qid(self) -> tuple[str | None, SentMessage | None]:
        qid, shown = self.person.question()
        return qid, None if shown is None else shown.handle  # type: ignore[return-value]

    def is_screen(self, message: SentMessage) -> bool:
        return self.screen_intro in (message.rendered_text or message.text or "")

    async def tap(self, label: str, message: SentMessage | None = None) -> list[SentMessage]:
        shown = self.person.on_screen()
        if message is not None:
            shown = next((s for s in self.person.channel.received() if s.handle is message), shown)
        before = len(self.sent())
        labels = shown.labels if shown is not None else ()
        chosen = label if label in labels else next((t for t in labels if label in t), label)
        self.transcript.append(f"  [tap] {chosen}")
        try:
            await self.person.tap(label, shown)
        except Stalled as exc:
            raise _Stall(str(exc)) from None
        return self._log_since(before)

    # -- steps
    async def play(self, step: Mapping[str, Any]) -> None:
        if "check" in step:
            await self.check(dict(step["check"] or {}))
        elif "tap" in step:
            await self.tap(str(step["tap"]))
        elif "say" in step:
            await self.say_and_note(str(step["say"]))
        elif "screen" in step:
            await self.screen(str(step["screen"]))
        elif "day" in step:
            await self.day(int(step["day"]), str(step.get("time") or f"{CHECKIN_HOUR}:00"))
        elif "checkin" in step:
            await self.checkin(dict(step["checkin"] or {}))

    async def say_and_note(self, text: str) -> None:
        """Type `text` and note how the bot took it (the report explains misses with this)."""
        on_screen, _ = self.current_qid()
        replies = await self.say(text)
        said = "\n".join(m.rendered_text or m.text or "" for m in replies)
        first = said.strip().splitlines()[0] if said.strip() else "(no reply)"
        if self.screen_intro in said:
            self.notes.append(f"text {text!r}: bot asked the screening question")
        elif tier_of_texts([said]) in (Tier.EMERGENCY, Tier.URGENT):
            self.notes.append(f"text {text!r}: bot escalated at once")
        elif on_screen == "urgent" and self.button_expected in said:
            # Urgent words with the same-day question on screen are answered this way too.
            self.notes.append(f"text {text!r}: bot showed the same-day question again")
        else:
            self.notes.append(f"text {text!r}: {RED_FLAG_MISSED} ({first!r})")

    async def check(self, answers: dict[str, Any]) -> None:
        upto = answers.pop("upto", None)
        wanted = {**CHECK_DEFAULTS, **{k: str(v) for k, v in answers.items()}}
        unknown = set(answers) - set(SYMPTOM_CHECK_QIDS)
        if unknown:
            raise _Stall(f"unknown symptom-check questions {sorted(unknown)}")
        for _ in range(MAX_TAPS_PER_STEP):
            qid, message = self.current_qid()
            if message is None or qid not in SYMPTOM_CHECK_QIDS or self.is_screen(message):
                return
            if qid == upto:
                return
            if qid == "pain":
                self.baseline = self.last_pain = int(wanted["pain"])
            await self.tap(wanted[qid], message)
        raise _Stall("the symptom check did not end")

    async def screen(self, label: str) -> None:
        qid, message = self.current_qid()
        offered = [text for text, _ in message.buttons()] if message is not None else []
        if (
            message is None
            or qid not in ("emergency", "urgent")
            or not any(label in text for text in offered)
        ):
            self.notes.append(f"screen {label!r}: no emergency/urgent question on screen to answer")
            return
        await self.tap(label, message)

    async def day(self, plan_day: int, at: str) -> None:
        onset = self._onset_date()
        if onset is None:
            raise _Stall(f"day {plan_day}: no episode with an onset date")
        target = onset + timedelta(days=plan_day - 1)
        hour, minute = (int(part) for part in at.split(":"))
        today = self.bot.clock.now().astimezone(ZONE).date()
        if target < today:
            raise _Stall(f"day {plan_day} ({target}) is before today ({today})")
        day = today
        while True:
            # Every evening in between, so that each day's check-in is sent (and left unanswered).
            if day == target:
                await self._advance(_local(day, hour, minute))
                return
            if day > today:
                await self._advance(_local(day, CHECKIN_HOUR))
            day += timedelta(days=1)

    async def _advance(self, when: datetime) -> None:
        before = len(self.sent())
        self.transcript.append(f"  [clock] {when:%a %d %b %H:%M}")
        await self.bot.advance_to(when)
        self._log_since(before)

    async def onboard(self) -> None:
        await self.say("/start")
        for label in (self.person.content.ui("consent_yes"), ZONE_LABEL, CHECKIN_LABEL):
            await self.tap(label)

    async def checkin(self, answers: dict[str, Any]) -> None:
        upto = answers.pop("upto", None)
        unknown = set(answers) - set(CHECKIN_QIDS)
        if unknown:
            raise _Stall(f"unknown check-in questions {sorted(unknown)}")
        pain = int(answers.get("pain", self.last_pain if self.last_pain is not None else 5))
        previous = self.last_pain if self.last_pain is not None else pain
        baseline = self.baseline if self.baseline is not None else pain
        change = "Better" if pain < previous else "Worse" if pain > previous else "Same"
        drop = baseline - pain
        pgic = (
            "Much improved"
            if drop >= 3
            else "A little improved"
            if drop > 0
            else "No change"
            if drop == 0
            else "A little worse"
        )
        wanted = {
            **CHECKIN_DEFAULTS,
            "pain": str(pain),
            "change": change,
            "pgic": pgic,
            **{k: str(v) for k, v in answers.items()},
        }
        answered = 0
        for _ in range(MAX_TAPS_PER_STEP):
            qid, message = self.current_qid()
            if message is None or qid not in CHECKIN_QIDS or self.is_screen(message):
                break
            if qid == upto:
                return
            await self.tap(wanted[qid], message)
            answered += 1
            if qid == "pain":
                self.last_pain = pain
        else:
            raise _Stall("the check-in did not end")
        if not answered:
            raise _Stall("no check-in question on screen")

    def _onset_date(self) -> date | None:
        with self.bot.coach.engine.connect() as db:
            value = db.execute(
                sa.text(
                    "select onset_date from episode where onset_date is not null "
                    "order by id desc limit 1"
                )
            ).scalar()
        if value is None:
            return None
        return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])

    def db_tier(self) -> Tier | None:
        with self.bot.coach.engine.connect() as db:
            value = db.execute(sa.text("select max(tier) from episode")).scalar()
        return None if value is None else Tier(int(value))


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


class VignetteRunner:
    """Runs vignettes one after another against one shared Bot API stand-in.

    Each vignette gets a fresh SQLite file (copied from one migrated template), a fresh manual
    clock at the harness's start time, its own bot Application and its own Telegram user id.
    """

    def __init__(self, workdir: Path | None = None) -> None:
        self._own_dir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="coach-vignettes-"))
        self.api = BotApiStandIn(token=TOKEN, max_long_poll=0.5)
        self._template = self.workdir / "template.sqlite3"
        self._next_user = FIRST_USER_ID

    async def __aenter__(self) -> VignetteRunner:
        await self.api.start()
        migrate(f"sqlite:///{self._template}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.api.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    async def run(self, vignette: Vignette, user_id: int | None = None) -> VignetteResult:
        started = time.perf_counter()
        if user_id is None:
            user_id = self._next_user
            self._next_user += 1
        db_file = self.workdir / f"{_safe(vignette.id)}.sqlite3"
        shutil.copyfile(self._template, db_file)
        bot = BotHarness(database_url=f"sqlite:///{db_file}", token=TOKEN, api=self.api)
        await bot.start()
        player = _Player(bot, user_id)
        stalled: str | None = None
        db_tier: Tier | None = None
        try:
            await player.onboard()
            for index, step in enumerate(vignette.script):
                try:
                    await player.play(step)
                except _Stall as exc:
                    stalled = f"step {index + 1} {dict(step)}: {exc}"
                    break
            await self.api.wait_until_updates_consumed()
            db_tier = player.db_tier()
        except Exception as exc:  # a harness failure is reported with the vignette, not raised
            stalled = f"error: {type(exc).__name__}: {str(exc)[:300]}"
        finally:
            await bot.stop()
            db_file.unlink(missing_ok=True)
        texts = [m.rendered_text or m.text or "" for m in player.sent()]
        return VignetteResult(
            vignette=vignette,
            given=tier_of_texts(texts),
            db_tier=db_tier,
            stalled=stalled,
            notes=player.notes,
            transcript=player.transcript,
            seconds=time.perf_counter() - started,
        )


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


Job = tuple[int, Vignette]  # (Telegram user id, vignette)


async def _run_jobs(jobs: Sequence[Job]) -> list[VignetteResult]:
    async with VignetteRunner() as runner:
        return [await runner.run(vignette, user_id) for user_id, vignette in jobs]


def _run_jobs_in_process(jobs: Sequence[Job]) -> list[VignetteResult]:
    # Stopping a bot cancels its repeating dispatch job; the scheduler logs that as an error.
    logging.getLogger("apscheduler").setLevel(logging.CRITICAL)
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(_run_jobs(jobs))
    finally:
        loop.close()


def _cost(vignette: Vignette) -> int:
    return 2 + sum(1 for step in vignette.script if "day" in step or "checkin" in step)


def _balance(jobs: Sequence[Job], parts: int) -> list[list[Job]]:
    """Split jobs into `parts` chunks of about equal cost (longest first, to the lightest)."""
    chunks: list[list[Job]] = [[] for _ in range(parts)]
    loads = [0] * parts
    for job in sorted(jobs, key=lambda j: -_cost(j[1])):
        lightest = loads.index(min(loads))
        chunks[lightest].append(job)
        loads[lightest] += _cost(job[1])
    return [chunk for chunk in chunks if chunk]


def default_workers() -> int:
    """Processes to use: COACH_VIGNETTE_WORKERS, else one per CPU (at most 4)."""
    configured = os.environ.get("COACH_VIGNETTE_WORKERS", "").strip()
    if configured:
        return max(1, int(configured))
    return max(1, min(4, os.cpu_count() or 1))


async def run_vignettes(
    vignettes: Sequence[Vignette] | None = None, *, workers: int | None = None
) -> list[VignetteResult]:
    """Run every vignette, in file order of results.

    One worker runs in this process; more workers run in separate processes (the bot is CPU-bound
    under one interpreter lock), each with its own Bot API stand-in reused across its vignettes.
    Every vignette has its own Telegram user id, SQLite file and clock.
    """
    todo = list(vignettes if vignettes is not None else load_vignettes())
    jobs = [(FIRST_USER_ID + index, vignette) for index, vignette in enumerate(todo)]
    count = min(workers or default_workers(), len(jobs))
    if count <= 1:
        results = await _run_jobs(jobs)
    else:
        loop = asyncio.get_running_loop()
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
            parts = await asyncio.gather(
                *(
                    loop.run_in_executor(pool, _run_jobs_in_process, chunk)
                    for chunk in _balance(jobs, count)
                )
            )
        results = [result for part in parts for result in part]
    order = {vignette.id: index for index, vignette in enumerate(todo)}
    return sorted(results, key=lambda r: order[r.vignette.id])


# ------------------------------------------------------------------------------------ report


TIERS = (Tier.EMERGENCY, Tier.URGENT, Tier.SOON, Tier.SELF)
# Columns of the confusion table: the tiers, then "no advice given" (None).
GIVEN_COLUMNS: tuple[Tier | None, ...] = (*TIERS, None)
VERDICTS = ("correct", "under", "over", "none")


@dataclass(frozen=True, repr=False)
class Report:
    results: tuple[VignetteResult, ...]
    seconds: float = 0.0

    def __repr__(self) -> str:
        verdicts = Counter(r.verdict for r in self.results)
        return f"Report({self.total} vignettes, {dict(verdicts)}, {self.seconds:.1f}s)"

    @property
    def total(self) -> int:
        return len(self.results)

    def expected_counts(self) -> Counter[Tier]:
        return Counter(r.expected for r in self.results)

    def confusion(self) -> dict[Tier, Counter[Tier | None]]:
        """Rows: expected tier; columns: the most urgent advice given, None for no advice."""
        table: dict[Tier, Counter[Tier | None]] = {tier: Counter() for tier in TIERS}
        for r in self.results:
            table[r.expected][r.given] += 1
        return table

    def accuracy(self, tier: Tier) -> tuple[int, int]:
        rows = [r for r in self.results if r.expected == tier]
        return sum(r.given == tier for r in rows), len(rows)

    def sensitivity(self, tier: Tier) -> tuple[int, int]:
        """Vignettes of `tier` that got advice at least that urgent (no advice never counts)."""
        rows = [r for r in self.results if r.expected == tier]
        return sum(r.reached(tier) for r in rows), len(rows)

    def of_verdict(self, verdict: str) -> list[VignetteResult]:
        return [r for r in self.results if r.verdict == verdict]

    @property
    def missed_emergencies(self) -> list[VignetteResult]:
        return [
            r
            for r in self.results
            if r.expected == Tier.EMERGENCY and not r.reached(Tier.EMERGENCY)
        ]

    @property
    def under_triaged_urgent(self) -> list[VignetteResult]:
        return [r for r in self.results if r.expected == Tier.URGENT and not r.reached(Tier.URGENT)]

    @property
    def without_advice(self) -> list[VignetteResult]:
        """Vignettes in which the bot never gave any advice (verdict `none`)."""
        return self.of_verdict("none")

    @property
    def unrecognised_red_flag_texts(self) -> list[VignetteResult]:
        """Correctly triaged URGENT/EMERGENCY vignettes where typed red-flag words went unseen."""
        return [
            r
            for r in self.results
            if r.verdict in ("correct", "over")
            and r.expected >= Tier.URGENT
            and any(RED_FLAG_MISSED in note for note in r.notes)
        ]

    @property
    def db_mismatches(self) -> list[VignetteResult]:
        return [r for r in self.results if not r.db_agrees]

    @property
    def script_problems(self) -> list[VignetteResult]:
        return [r for r in self.results if r.stalled is not None and not r.halted_by_bot]

    def render(self) -> str:
        lines = [f"Triage vignettes: {self.total} run in {self.seconds:.1f}s"]
        counts = self.expected_counts()
        lines.append(
            "  by expected tier: " + ", ".join(f"{t.name} {counts.get(t, 0)}" for t in TIERS)
        )
        hit, n = self.sensitivity(Tier.EMERGENCY)
        lines.append(f"  emergency sensitivity: {hit}/{n} ({_pct(hit, n)})")
        hit, n = self.sensitivity(Tier.URGENT)
        lines.append(f"  urgent sensitivity (URGENT or more): {hit}/{n} ({_pct(hit, n)})")
        lines.append("  per-tier accuracy (given == expected):")
        for tier in TIERS:
            hit, n = self.accuracy(tier)
            lines.append(f"    {tier.name:<9} {hit:>3}/{n:<3} {_pct(hit, n)}")
        correct = len(self.of_verdict("correct"))
        lines.append(
            f"  overall: {correct}/{self.total} correct, "
            f"{len(self.of_verdict('under'))} under-triaged, "
            f"{len(self.of_verdict('over'))} over-triaged, "
            f"{len(self.of_verdict('none'))} without any advice"
        )
        lines.append(
            "  confusion (rows: expected, columns: most urgent advice given, "
            f"{NO_ADVICE} = no advice at all):"
        )
        names = [t.name if t is not None else NO_ADVICE for t in GIVEN_COLUMNS]
        header = "    " + f"{'':<10}" + "".join(f"{n:>10}" for n in names) + f"{'total':>8}"
        lines.append(header)
        table = self.confusion()
        for tier in TIERS:
            row = table[tier]
            cells = "".join(f"{row.get(given, 0):>10}" for given in GIVEN_COLUMNS)
            lines.append(f"    {tier.name:<10}{cells}{sum(row.values()):>8}")
        for title, rows in (
            ("NO ADVICE GIVEN AT ALL", self.of_verdict("none")),
            ("UNDER-TRIAGED", self.of_verdict("under")),
            ("OVER-TRIAGED", self.of_verdict("over")),
        ):
            if rows:
                lines.append(f"  {title}:")
                for r in rows:
                    lines.extend(_describe(r))
        near = self.unrecognised_red_flag_texts
        if near:
            lines.append(
                "  RED-FLAG TEXT NOT RECOGNISED (scored right only through a tap or another rule):"
            )
            for r in near:
                lines.extend(_describe(r))
        if self.db_mismatches:
            lines.append("  DB CROSS-CHECK MISMATCHES (episode.tier vs advice texts):")
            for r in self.db_mismatches:
                db = r.db_tier.name if r.db_tier is not None else "no episode"
                lines.append(f"    {r.vignette.id}: texts {r.given_name}, episode.tier {db}")
        if self.script_problems:
            lines.append("  SCRIPTS THAT COULD NOT BE PLAYED TO THE END:")
            for r in self.script_problems:
                lines.append(f"    {r.vignette.id}: {r.stalled}")
        return "\n".join(lines)


def _describe(r: VignetteResult) -> list[str]:
    lines = [
        f"    {r.vignette.id} [{r.vignette.persona}] expected {r.expected.name}, "
        f"given {r.given_name}: {r.vignette.summary}"
    ]
    lines.extend(f"      - {note}" for note in r.notes)
    if r.stalled and not r.halted_by_bot:
        lines.append(f"      - script stopped: {r.stalled}")
    return lines


def _pct(hit: int, n: int) -> str:
    return f"{100 * hit / n:.1f}%" if n else "n/a"


async def run_report(
    vignettes: Sequence[Vignette] | None = None, *, workers: int | None = None
) -> Report:
    started = time.perf_counter()
    results = await run_vignettes(vignettes, workers=workers)
    return Report(tuple(results), time.perf_counter() - started)


__all__ = [
    "GIVEN_COLUMNS",
    "NO_ADVICE",
    "TIERS",
    "VERDICTS",
    "Report",
    "Vignette",
    "VignetteError",
    "VignetteResult",
    "VignetteRunner",
    "default_workers",
    "load_vignettes",
    "run_report",
    "run_vignettes",
    "tier_of_texts",
]
