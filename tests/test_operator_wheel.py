"""The built wheel on its own: installed into a fresh virtual environment and run from an empty
folder, it finds its content inside the package (no checkout, no COACH_CONTENT_DIR).

Fast by construction: the wheel is built with the project's own pinned setuptools (no build
isolation), and the fresh environment borrows the already installed dependencies through a .pth
line instead of downloading them; only the project itself comes from the wheel.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.conftest import TOKEN
from tests.support.botapi_standin import BotApiStandIn
from tests.test_operations import _free_port, _wait_healthy

ROOT = Path(__file__).resolve().parent.parent
PIP = [sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check"]
SHOW_CONTENT_ROOT = "from coach.content.location import content_root; print(content_root())"


def build_and_install_wheel(work: Path) -> Path:
    """Build the project's wheel and install it alone into a new venv under `work`."""
    # setuptools builds in the checkout (build/, *.egg-info): one build at a time, whichever
    # test worker asks (bin/run-tests runs the files on every core).
    with open(ROOT / ".wheel-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(
            [
                *PIP,
                "wheel",
                "--no-deps",
                "--no-build-isolation",
                "-w",
                str(work / "dist"),
                str(ROOT),
            ],
            check=True,
            timeout=120,
        )
    wheel = next((work / "dist").glob("recovery_coach-*.whl"))
    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [*PIP, "--python", str(python), "install", "--no-deps", str(wheel)],
        check=True,
        timeout=120,
    )
    # The dependencies: the test environment's site-packages, appended after the venv's own
    # (a plain path line; the checkout's editable-install hook there is not run).
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "borrowed-dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    return env_dir


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_and_install_wheel(tmp_path_factory.mktemp("wheel"))


def _env(env_dir: Path, **values: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("COACH_") and k not in ("TELEGRAM_BOT_TOKEN", "PYTHONPATH")
    }
    env["PATH"] = f"{env_dir / 'bin'}:{env.get('PATH', '')}"
    return env | values


def test_the_wheel_ships_its_content_inside_the_package(
    installed_wheel: Path, tmp_path: Path
) -> None:
    found = subprocess.run(
        [str(installed_wheel / "bin" / "python"), "-c", SHOW_CONTENT_ROOT],
        env=_env(installed_wheel),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    root = Path(found)
    assert root.is_relative_to(installed_wheel), found  # not the checkout's content/
    assert (root / "sources.yaml").is_file() and (root / "en" / "coach.yaml").is_file()


def test_simulate_from_an_empty_folder_uses_the_shipped_content(
    installed_wheel: Path, tmp_path: Path
) -> None:
    result = subprocess.run(
        ["coach", "simulate", "recovery"],
        env=_env(installed_wheel),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "=== End of recovery: episode recovered" in result.stdout
    assert list(tmp_path.iterdir()) == []  # nothing left behind in the working folder


def test_content_dir_overrides_the_shipped_content(installed_wheel: Path, tmp_path: Path) -> None:
    empty = tmp_path / "my-content"
    empty.mkdir()
    result = subprocess.run(
        ["coach", "simulate", "recovery"],
        env=_env(installed_wheel, COACH_CONTENT_DIR=str(empty)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"coach: content file missing: {empty / 'sources.yaml'}"


async def test_run_from_an_empty_folder_answers_and_stops_on_sigterm(
    installed_wheel: Path, tmp_path: Path
) -> None:
    port = _free_port()
    async with BotApiStandIn(token=TOKEN) as api:
        process = await asyncio.create_subprocess_exec(
            "coach",
            "run",
            env=_env(
                installed_wheel,
                TELEGRAM_BOT_TOKEN=TOKEN,
                COACH_BOT_API_URL=api.root_url,
                COACH_HTTP_LISTEN=f"127.0.0.1:{port}",
            ),
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            await _wait_healthy(port, process, 60)
            api.user_sends_text(4242, "/start")
            replies = await api.wait_for_messages(4242, 1, timeout=20)
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), 20)
        finally:
            if process.returncode is None:
                process.kill()
        output = (await process.stdout.read()).decode() if process.stdout else ""
    assert code == 0, output
    assert "not a diagnosis" in (replies[0].text or "")
    assert (tmp_path / "data" / "coach.sqlite3").is_file()  # COACH_DATA_DIR's default, ./data
