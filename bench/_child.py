"""Helpers for benchmark child processes: standard library only, so importing them costs nothing
that would be counted in a child's start-up time or memory."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
from typing import Any


def report(**values: Any) -> None:
    """Send a `BENCH {json}` line to the parent."""
    print("BENCH " + json.dumps(values, default=str), flush=True)


def pin() -> None:
    """Pin to the CPU the parent asked for (BENCH_PIN_CPU), when there is more than one."""
    cpu = os.environ.get("BENCH_PIN_CPU")
    count = os.cpu_count() or 1
    if cpu is not None and count > 1 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(cpu) % count})


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def vm_hwm_mb() -> float:
    """The kernel's high-water mark of this process's RSS (VmHWM), a cross-check of ru_maxrss."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def wait_for_stop(timeout: float) -> bool:
    """Wait for a line (`stop`) or EOF on stdin; False when `timeout` passed first."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    try:
        await asyncio.wait_for(reader.readline(), timeout)
        return True
    except TimeoutError:
        return False
    finally:
        transport.close()


def start_sampler() -> Any:
    """BENCH_PYSPY=<path>: sample this process (every thread, on-CPU only) with py-spy until
    `stop_sampler`, into <path> as collapsed stacks (`bench._profile --pyspy <path>` sums them).
    py-spy is not a dependency of the coach: `.venv/bin/pip install py-spy` to use this."""
    path = os.environ.get("BENCH_PYSPY")
    if not path:
        return None
    import subprocess

    spy = os.path.join(os.path.dirname(sys.executable), "py-spy")
    command = [spy, "record", "--pid", str(os.getpid()), "--rate", "250", "--format", "raw"]
    command += ["--nonblocking", "--output", path]
    return subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_sampler(sampler: Any) -> None:
    if sampler is None:
        return
    import signal

    sampler.send_signal(signal.SIGINT)
    sampler.wait(timeout=30)
