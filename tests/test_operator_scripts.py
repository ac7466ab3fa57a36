"""bin/run-coach and bin/run-tests install only when pyproject.toml, setup.py or constraints.txt
changed (a stamp in .venv), so after the first time they start at once and work offline.

Run on a copy of bin/ in an empty folder whose .venv/bin/python records every call instead of
running pip: what is checked is when the scripts install, not pip itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FAKE_PYTHON = """#!/usr/bin/env bash
echo "$*" >>"$(dirname "$0")/../calls.log"
exit "${FAKE_PIP_EXIT:-0}"
"""
FAKE_COACH = """#!/usr/bin/env bash
echo "coach $*"
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "bin", tmp_path / "bin")
    for name in ("pyproject.toml", "setup.py", "constraints.txt"):
        (tmp_path / name).write_text(f"# {name}\n", encoding="utf-8")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in (("python", FAKE_PYTHON), ("coach", FAKE_COACH)):
        (bin_dir / name).write_text(text, encoding="utf-8")
        (bin_dir / name).chmod(0o755)
    return tmp_path


def _run(checkout: Path, *command: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(checkout / command[0]), *command[1:]],
        env={**os.environ, "PIP_NO_INDEX": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _installs(checkout: Path) -> list[str]:
    log = checkout / ".venv" / "calls.log"
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def test_run_coach_installs_once_then_starts_without_pip(checkout: Path) -> None:
    first = _run(checkout, "bin/run-coach", "simulate")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "coach simulate\n"
    assert len(_installs(checkout)) == 1
    assert "-c constraints.txt -e ." in _installs(checkout)[0]
    again = _run(checkout, "bin/run-coach")
    assert again.returncode == 0 and again.stdout == "coach run\n"
    assert len(_installs(checkout)) == 1  # no pip at all: works offline


@pytest.mark.parametrize("changed", ["pyproject.toml", "setup.py", "constraints.txt"])
def test_a_changed_dependency_file_installs_again(checkout: Path, changed: str) -> None:
    assert _run(checkout, "bin/ensure-venv").returncode == 0
    with (checkout / changed).open("a", encoding="utf-8") as handle:
        handle.write("httpx==0.28.1\n")
    assert _run(checkout, "bin/ensure-venv").returncode == 0
    assert len(_installs(checkout)) == 2


def test_the_test_tools_install_serves_the_coach_too(checkout: Path) -> None:
    assert _run(checkout, "bin/ensure-venv", "dev").returncode == 0
    assert _installs(checkout)[-1].endswith("-e .[dev]")
    assert _run(checkout, "bin/ensure-venv").returncode == 0
    assert _run(checkout, "bin/ensure-venv", "dev").returncode == 0
    assert len(_installs(checkout)) == 1


def test_a_failed_install_is_tried_again_next_time(checkout: Path) -> None:
    failed = _run(checkout, "bin/ensure-venv", FAKE_PIP_EXIT="1")
    assert failed.returncode != 0
    assert _run(checkout, "bin/ensure-venv").returncode == 0
    assert len(_installs(checkout)) == 2


def test_run_tests_installs_through_the_stamp() -> None:
    script = (ROOT / "bin" / "run-tests").read_text(encoding="utf-8")
    assert "bin/ensure-venv dev" in script
    assert "pip install" not in script
