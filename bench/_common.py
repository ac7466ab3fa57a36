"""Shared pieces of the benchmarks: seeding, throwaway databases, the stand-in, child processes.

The parent process of every benchmark hosts the Bot API stand-in (loopback) and orchestrates;
what is measured runs in a fresh child process (`python -m bench._<x>_child ...`), so its peak
RSS (`ru_maxrss`) is its own and nothing of the stand-in is counted in it.

Children report with lines `BENCH {json}` on stdout; the parent may write `stop` on their stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from tests.support.botapi_standin import DEFAULT_TOKEN, BotApiStandIn, SentMessage

ROOT = Path(__file__).resolve().parent.parent
TOKEN = DEFAULT_TOKEN
PG_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
WORK_DIR = Path(os.environ.get("BENCH_WORK_DIR", "/tmp/coach-bench"))

# Real zones spread round the clock; people are given zones in turn.
ZONES = (
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "Atlantic/Azores",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Athens",
    "Europe/Moscow",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Noumea",
    "Pacific/Auckland",
    "Pacific/Kiritimati",
)
CHECKIN_TIMES = tuple(dtime(h, m) for h in (18, 19, 20) for m in (0, 30))


# ------------------------------------------------------------------------------ reporting


def md_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_line() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    one, five, fifteen = os.getloadavg()
    load = f", load average {one:.1f} / {five:.1f} / {fifteen:.1f}"
    return (
        f"nproc={os.cpu_count()} ({model}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}{load}; {code_state()}{experiments()}"
    )


def experiments() -> str:
    """The experiment switches set for this run (none in the benchmarks as documented)."""
    switches = [
        f"{name}={os.environ[name]}"
        for name in ("BENCH_EXPERIMENT", "BENCH_WORKERS")
        if os.environ.get(name)
    ]
    return f"; EXPERIMENT, not the coach's code: {' '.join(switches)}" if switches else ""


def code_state() -> str:
    """The commit measured, and whether coach/ differed from it (others edit the checkout too).

    BENCH_CODE_STATE overrides it (e.g. for a run from an exported copy of a commit)."""
    if os.environ.get("BENCH_CODE_STATE"):
        return "code: " + os.environ["BENCH_CODE_STATE"]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        diff = subprocess.run(
            ["git", "diff", "HEAD", "--", "coach"], cwd=ROOT, capture_output=True
        ).stdout
        new = subprocess.run(
            ["git", "ls-files", "--others", "--exclude-standard", "coach"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.split()
    except OSError:
        return "code: unknown (no git)"
    if not diff and not new:
        return f"code: commit {head}, coach/ unchanged"
    digest = hashlib.sha1(diff + "\n".join(new).encode()).hexdigest()[:8]
    return (
        f"code: commit {head} + uncommitted changes in coach/ by others "
        f"({len(diff.splitlines())} diff lines, {len(new)} new files, digest {digest})"
    )


def command_line() -> str:
    return ".venv/bin/python -m " + " ".join([sys.argv[0].split("/")[-2:][-1], *sys.argv[1:]])


def module_command(module: str) -> str:
    return " ".join([".venv/bin/python -m", module, *sys.argv[1:]])


def pin_to_cpu(cpu: int) -> None:
    """Pin this process to one CPU when the machine has more than one (else do nothing)."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {cpu % (os.cpu_count() or 1)})


# ------------------------------------------------------------------------------ databases


def pg_admin() -> sa.Engine:
    return sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def pg_url(name: str) -> str:
    return sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def pg_create(name: str, template: str | None = None) -> str:
    admin = pg_admin()
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        extra = f' TEMPLATE "{template}"' if template else ""
        connection.execute(sa.text(f'CREATE DATABASE "{name}"{extra}'))
    admin.dispose()
    return pg_url(name)


def pg_drop(name: str) -> None:
    admin = pg_admin()
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def pg_available() -> bool:
    try:
        admin = pg_admin()
        with admin.connect() as connection:
            connection.execute(sa.text("select 1"))
        admin.dispose()
        return True
    except Exception:
        return False


def bench_name(prefix: str) -> str:
    return f"coach_bench_{prefix}_{uuid.uuid4().hex[:8]}"


def sqlite_path(prefix: str) -> Path:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    return WORK_DIR / f"{prefix}-{uuid.uuid4().hex[:8]}.sqlite3"


def sqlite_copy(source: Path, prefix: str) -> Path:
    target = sqlite_path(prefix)
    shutil.copyfile(source, target)
    return target


def sqlite_remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


# ------------------------------------------------------------------------------ seeding


def daytime_zones(now: datetime, start_hour: int = 10, end_hour: int = 18) -> list[str]:
    """Zones of ZONES where it is between start_hour and end_hour local time at `now`."""
    zones = [z for z in ZONES if start_hour <= now.astimezone(ZoneInfo(z)).hour < end_hour]
    if not zones:
        raise RuntimeError("no daytime zone found")  # cannot happen with ZONES
    return zones


@dataclass
class Seeded:
    people: int
    followups: int
    due: int
    seconds: float


def seed(
    url: str,
    people: int,
    *,
    now: datetime,
    mode: str,
    kinds: Sequence[str] | None = None,
    chunk: int = 5000,
    lead: float = 0.0,
    span: float = 0.0,
) -> Seeded:
    """Bulk-insert people with an ACTIVE episode and their pending follow-ups, as the coach would
    have them, into a freshly migrated database at `url`.

    mode="next_day": every person's four daily follow-ups (morning plan, two nudges, check-in) for
        their next local day, due instants from the coach's own planner.
    mode="due_now": one follow-up per person falling due 30 s before `now` (kinds in turn from
        `kinds`, default the four daily kinds), people in zones where it is daytime at `now`, so
        quiet hours skip nothing; telegram user/chat ids are 1_000_000 + person id.
    mode="spread": as due_now, but the follow-ups fall due evenly from `now + lead` over the next
        `span` seconds (a steady stream for the dispatcher while something else is measured).
    """
    from coach.scheduling.planner import DAILY_KINDS, DaySchedule, due_instant
    from coach.settings import Settings
    from coach.storage.database import create_db_engine, migrate
    from coach.storage.models import Episode, FollowUp, Person

    started = time.perf_counter()
    migrate(url)
    settings = Settings()
    kinds = list(kinds or [str(k) for k in DAILY_KINDS])
    zones = list(ZONES) if mode == "next_day" else daytime_zones(now)
    engine = create_db_engine(url)
    person_t, episode_t, followup_t = Person.__table__, Episode.__table__, FollowUp.__table__  # type: ignore[attr-defined]
    followups = due = 0
    with engine.begin() as conn:
        for first in range(1, people + 1, chunk):
            ids = range(first, min(first + chunk, people + 1))
            person_rows: list[dict[str, Any]] = []
            episode_rows: list[dict[str, Any]] = []
            followup_rows: list[dict[str, Any]] = []
            for pid in ids:
                zone = zones[pid % len(zones)]
                local_now = now.astimezone(ZoneInfo(zone))
                today = local_now.date()
                if mode == "next_day":
                    checkin_time = CHECKIN_TIMES[pid % len(CHECKIN_TIMES)]
                else:
                    checkin_time = dtime(local_now.hour, local_now.minute)
                person_rows.append(
                    {
                        "id": pid,
                        "telegram_user_id": 1_000_000 + pid,
                        "chat_id": 1_000_000 + pid,
                        "language": "en",
                        "timezone": zone,
                        "checkin_time": checkin_time,
                        "emergency_number": "112",
                        "consent_at": now - timedelta(days=2),
                        "consent_version": "bench",
                        "state": "active",
                        "blocked": False,
                        "flow": None,
                        "flow_data": {},
                        "flow_token": 1,
                        "created_at": now - timedelta(days=2),
                        "updated_at": now - timedelta(days=1),
                    }
                )
                episode_rows.append(
                    {
                        "id": pid,
                        "person_id": pid,
                        "started_at": now - timedelta(days=1),
                        "onset_date": today - timedelta(days=1),
                        "location": "lower_back",
                        "trigger": "lifting",
                        "baseline_pain": 6,
                        "age_band": "under50",
                        "tier": 0,
                        "phase": "ice",
                        "status": "active",
                    }
                )
                if mode == "next_day":
                    schedule = DaySchedule(
                        zone=zone,
                        checkin_time=checkin_time,
                        morning_time=settings.morning_time,
                        quiet_start=settings.quiet_start,
                        quiet_end=settings.quiet_end,
                        person_id=pid,
                    )
                    tomorrow = today + timedelta(days=1)
                    for kind in DAILY_KINDS:
                        due_at = due_instant(kind, schedule, tomorrow)
                        if due_at is not None:
                            followup_rows.append(_followup(pid, str(kind), tomorrow, due_at))
                else:
                    kind = kinds[pid % len(kinds)]
                    if mode == "spread":
                        due_at = now + timedelta(seconds=lead + span * (pid - 1) / people)
                    else:
                        due_at = now - timedelta(seconds=30) + timedelta(microseconds=pid)
                    followup_rows.append(_followup(pid, kind, today, due_at))
                    due += 1
            conn.execute(person_t.insert(), person_rows)
            conn.execute(episode_t.insert(), episode_rows)
            conn.execute(followup_t.insert(), followup_rows)
            followups += len(followup_rows)
        if engine.dialect.name == "postgresql":
            for table in ("person", "episode", "followup"):
                conn.execute(
                    sa.text(
                        f"select setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(select coalesce(max(id), 1) from {table}))"
                    )
                )
    engine.dispose()
    checkpoint(url)
    return Seeded(people, followups, due, time.perf_counter() - started)


def checkpoint(url: str) -> None:
    """SQLite: fold the WAL into the file (a copy is then complete); PostgreSQL: VACUUM ANALYZE.

    Outside the coach's engine: it opens every transaction with BEGIN IMMEDIATE, inside which
    SQLite refuses a checkpoint ("database table is locked")."""
    if url.startswith("sqlite"):
        connection = sqlite3.connect(url.split("///", 1)[-1], isolation_level=None)
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()
        return
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()


def _followup(pid: int, kind: str, local_date: date, due_at: datetime) -> dict[str, Any]:
    return {
        "person_id": pid,
        "episode_id": pid,
        "kind": kind,
        "local_date": local_date,
        "due_at": due_at,
        "status": "pending",
        "attempts": 0,
    }


def status_counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select status, count(*) from followup group by status")).all()
    engine.dispose()
    return {str(s): int(c) for s, c in rows}


def outbox_counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("select status, count(*) from outbox_message group by status")
        ).all()
    engine.dispose()
    return {str(s): int(c) for s, c in rows}


def utc_now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------ stand-in


class BenchStandIn(BotApiStandIn):
    """The stand-in with counters and per-chat message queues, and optionally no recordings
    (a 100,000-message run would otherwise keep every request in memory).

    `listen`: every sendMessage (and every edit that brings buttons) is also put on
    `queues[chat_id]` (only for the chats in `listen_chats` when that is set), stamped with the
    stand-in's own `time.monotonic()`.
    Without recordings, the stored messages of the chats in `listen_chats` are kept (people
    tap their buttons and the bot edits them); the others are forgotten now and then.
    """

    def __init__(self, *, keep_records: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keep_records = keep_records
        self.counts: Counter[str] = Counter()
        self.send_times: list[float] = []
        self.queues: dict[int, asyncio.Queue[SentMessage]] = defaultdict(asyncio.Queue)
        self.listen = False
        self.listen_chats: set[int] | None = None
        self.samples: list[dict[str, Any]] = []  # the first sendMessages to other chats

    def _record(  # type: ignore[override]
        self,
        method: str,
        chat_id: int,
        message_id: int,
        text: str | None,
        markup: dict[str, Any] | None,
        params: dict[str, Any],
        **kwargs: Any,
    ) -> None:
        self.counts[method] += 1
        listened = self.listen and (self.listen_chats is None or chat_id in self.listen_chats)
        if listened:
            self.counts[f"{method} (listened chats)"] += 1
        if method == "sendMessage":
            self.send_times.append(time.monotonic())
            if listened:
                self.queues[chat_id].put_nowait(
                    SentMessage(chat_id, message_id, text, markup, method, time.monotonic())
                )
            elif len(self.samples) < 8:
                self.samples.append({"text": text, "markup": markup})
        elif method == "editMessageText" and listened and markup:
            # The next question put in the answered one's place: what the person sees next.
            self.queues[chat_id].put_nowait(
                SentMessage(chat_id, message_id, text, markup, method, time.monotonic())
            )
        if self.keep_records:
            super()._record(method, chat_id, message_id, text, markup, params, **kwargs)
        else:
            self.calls.clear()
            if len(self._messages) > 10_000:
                keep = self.listen_chats or set()
                self._messages = {k: v for k, v in self._messages.items() if k[0] in keep}
            self._touch()

    async def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        self.counts["answerCallbackQuery"] += 1
        answered = await super()._answer_callback_query(params)
        if not self.keep_records:
            self.callback_answers.clear()
        return answered


# ------------------------------------------------------------------------------ children


class Child:
    """A benchmark child process: `BENCH {json}` lines on stdout, `stop` on stdin."""

    def __init__(self, proc: asyncio.subprocess.Process, spawned_at: float) -> None:
        self.proc = proc
        self.spawned_at = spawned_at
        self.reports: list[dict[str, Any]] = []
        self._new = asyncio.Event()
        self.stderr_tail: list[str] = []
        self._readers = [
            asyncio.create_task(self._read_stdout()),
            asyncio.create_task(self._read_stderr()),
        ]

    @classmethod
    async def spawn(
        cls, module: str, *args: str, cpu: int | None = None, env: dict[str, str] | None = None
    ) -> Child:
        env = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        if cpu is not None:
            env["BENCH_PIN_CPU"] = str(cpu)
        spawned_at = time.perf_counter()
        # Through a small /bin/sh that forks the child: on Linux a process's ru_maxrss starts at
        # the RSS of the process it was forked from, so a child forked straight from this
        # (large) parent would report the parent's size as its own peak.
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            '"$0" "$@"; exit $?',
            sys.executable,
            "-m",
            module,
            *args,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        return cls(proc, spawned_at)

    async def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            if line.startswith("BENCH "):
                self.reports.append(json.loads(line[6:]))
                self._new.set()

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            self.stderr_tail.append(raw.decode(errors="replace").rstrip())
            del self.stderr_tail[:-40]

    async def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def report(self, key: str, timeout: float, nth: int = 0) -> dict[str, Any]:
        """Wait for the `nth` (0: first) report that has `key`."""
        deadline = time.monotonic() + timeout
        while True:
            found = [report for report in self.reports if key in report]
            if len(found) > nth:
                return found[nth]
            if self.proc.returncode is not None and self._readers[0].done():
                raise RuntimeError(self._failure(f"child exited before reporting {key!r}"))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(self._failure(f"no {key!r} report within {timeout}s"))
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), min(remaining, 0.5))

    def _failure(self, what: str) -> str:
        return what + "\n" + "\n".join(self.stderr_tail)

    async def stop(self, timeout: float = 30.0) -> int:
        if self.proc.returncode is None and self.proc.stdin is not None:
            try:
                self.proc.stdin.write(b"stop\n")
                await self.proc.stdin.drain()
                self.proc.stdin.close()
            except (BrokenPipeError, ConnectionResetError):
                pass
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            # Our own session (the /bin/sh and the child it forked), by its id.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            await self.proc.wait()
        for reader in self._readers:
            await reader
        return int(self.proc.returncode or 0)
