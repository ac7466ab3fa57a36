"""Where the content lives: shipped inside the package, unless COACH_CONTENT_DIR says otherwise.

The folder `content/` at the repository root is installed as the package data `coach/content/
shipped/` (see `[tool.setuptools.package-dir]` in pyproject.toml), so a wheel finds its texts from
any working directory. An editable install (a checkout) has no such folder and reads the
checkout's `content/` itself, so an edit there shows at the next start.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

CHECKOUT_CONTENT = Path(__file__).resolve().parents[2] / "content"


def content_root() -> Path:
    """The content folder shipped with the coach: sources.yaml and one folder per language."""
    shipped = files("coach.content").joinpath("shipped")
    if isinstance(shipped, Path) and shipped.is_dir():
        return shipped
    return CHECKOUT_CONTENT
