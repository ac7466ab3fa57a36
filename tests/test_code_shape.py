"""The shape of the code, kept by tests: modules a newcomer can read in one sitting."""

from __future__ import annotations

from pathlib import Path

import pytest

COACH = Path(__file__).resolve().parent.parent / "coach"
MAX_LINES = 400


def _modules() -> list[Path]:
    return sorted(
        p
        for p in COACH.rglob("*.py")
        if "migrations" not in p.parts and "__pycache__" not in p.parts
    )


@pytest.mark.parametrize("module", _modules(), ids=lambda p: str(p.relative_to(COACH)))
def test_no_module_is_longer_than_about_400_lines(module: Path) -> None:
    lines = len(module.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module.relative_to(COACH)} has {lines} lines: split it by job"


def test_the_modules_were_found() -> None:
    names = {p.name for p in _modules()}
    assert {"courier.py", "service.py", "outbox.py"} <= names
