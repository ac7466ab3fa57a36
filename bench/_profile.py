"""cProfile of a whole child process: the event loop's thread and every worker thread.

cProfile sees only the thread that enables it, and the coach does its database work in
`asyncio.to_thread` workers; so each worker item runs under its own per-thread profiler, and the
stats are merged at the end. Used by the children when BENCH_PROFILE=<path> is set (stats file
for `python -m pstats` or `bench._profile <path>`); no benchmark sets it. BENCH_PROFILE_CLOCK=cpu
profiles CPU time instead of wall time (waiting for a lock or a socket then costs nothing).

    python -m bench._profile STATS_FILE [N]    # the top N functions by own and cumulative time
    python -m bench._profile --pyspy RAW_FILE  # py-spy samples (BENCH_PYSPY) summed by layer
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import threading
import time
from concurrent.futures import thread as futures_thread
from typing import Any


def _timer() -> Any:
    """BENCH_PROFILE_CLOCK=cpu: per-thread CPU time (waits, such as SQLite's busy handler sleeping
    on a lock, then cost nothing); default: wall-clock time."""
    return time.thread_time if os.environ.get("BENCH_PROFILE_CLOCK") == "cpu" else time.perf_counter


class ThreadsProfile:
    def __init__(self) -> None:
        self.timer = _timer()
        self.main = cProfile.Profile(self.timer)
        self.profiles: list[cProfile.Profile] = []
        self._local = threading.local()
        self._original: Any = None

    def start(self) -> None:
        original = futures_thread._WorkItem.run
        self._original = original
        local, profiles = self._local, self.profiles

        def run(item: Any) -> None:
            profile = getattr(local, "profile", None)
            if profile is None:
                profile = local.profile = cProfile.Profile(self.timer)
                profiles.append(profile)
            profile.enable()
            try:
                original(item)
            finally:
                profile.disable()

        futures_thread._WorkItem.run = run  # type: ignore[method-assign]
        self.main.enable()

    def stop(self, path: str) -> None:
        self.main.disable()
        futures_thread._WorkItem.run = self._original  # type: ignore[method-assign]
        stats = pstats.Stats(self.main)
        for profile in self.profiles:
            stats.add(profile)
        stats.dump_stats(path)


# Where a sample's innermost frame is, by file path: the first match names its share.
LAYERS = (
    ("database: driver execute/fetch/commit", ("sqlalchemy/engine/default.py", "psycopg/")),
    ("database: SQLAlchemy", ("sqlalchemy/", "sqlmodel/")),
    ("Bot API: PTB", ("telegram/",)),
    ("Bot API: httpx/httpcore/anyio/h11", ("httpx/", "httpcore/", "anyio/", "h11/", "sniffio/")),
    ("rate limiter (aiolimiter)", ("aiolimiter/",)),
    ("coach", ("/coach/",)),
    ("asyncio and threads", ("asyncio/", "concurrent/futures/", "threading.py", "selectors.py")),
    ("json", ("json/",)),
)
# Inclusive shares: samples with this function anywhere on the stack.
MARKERS = (
    "handle (coach/pipeline/service.py",
    "_route (coach/pipeline/service.py",
    "_queue_outcome (coach/pipeline/service.py",
    "_first_time (coach/pipeline/service.py",
    "render_followups (coach/pipeline/service.py",
    "claim_due_followups (coach/pipeline/service.py",
    "deliver_chat (coach/pipeline/courier.py",
    "deliver_due (coach/pipeline/courier.py",
    "claim (coach/storage/outbox.py",
    "mark_sent_many (coach/storage/outbox.py",
    "_seconds_until_chat_due (coach/pipeline/courier.py",
    "_keep_lease (coach/pipeline/courier.py",
    "send (coach/telegram_adapter/sender.py",
    "process (coach/telegram_adapter/runtime.py",
    "answer (telegram/_callbackquery.py",
    "get_updates (telegram/_bot.py",
    "de_json (telegram/",
    "commit (sqlalchemy/orm/session.py",
    "_sqlite_begin_immediate (coach/storage/database.py",
)


def show_pyspy(path: str) -> None:
    """Sum py-spy's collapsed stacks (`--format raw`) into layers and markers."""
    layers: dict[str, int] = {}
    markers = dict.fromkeys(MARKERS, 0)
    total = 0
    with open(path) as handle:
        lines = handle.read().splitlines()
    for line in lines:
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        leaf = frames[-1]
        layer = next((name for name, keys in LAYERS if any(k in leaf for k in keys)), "other")
        layers[layer] = layers.get(layer, 0) + count
        for marker in MARKERS:
            if any(marker in frame for frame in frames):
                markers[marker] += count
    print(f"{total} samples (on-CPU, every thread)\n\nself time by layer (innermost frame):")
    for name, count in sorted(layers.items(), key=lambda item: -item[1]):
        print(f"  {100 * count / total:5.1f} %  {name}")
    print("\ninclusive (function anywhere on the stack):")
    for marker, count in markers.items():
        print(f"  {100 * count / total:5.1f} %  {marker.split(' (')[0]} ({marker.split(' (')[1]})")


def show(path: str, top: int = 40) -> None:
    stats = pstats.Stats(path)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


if __name__ == "__main__":
    if sys.argv[1] == "--pyspy":
        show_pyspy(sys.argv[2])
    else:
        show(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 40)
