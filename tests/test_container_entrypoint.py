"""The image's entry command, outside a container: build the wheel, install it into a fresh
virtual environment (tests/test_operator_wheel.py says how), run `coach run` against the local
PostgreSQL with the image's environment, and wait for /healthz to answer 200."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_URL, TOKEN
from tests.support.botapi_standin import BotApiStandIn
from tests.test_operations import _free_port, _wait_healthy
from tests.test_operator_wheel import build_and_install_wheel

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not POSTGRES_URL:
        pytest.skip("COACH_TEST_POSTGRES_URL is not set: no PostgreSQL server configured")
    return build_and_install_wheel(tmp_path_factory.mktemp("wheel"))


async def test_the_image_entry_command_serves_healthz_on_postgres(
    installed_wheel: Path, postgres_url: str, tmp_path: Path
) -> None:
    port = _free_port()
    async with BotApiStandIn(token=TOKEN) as api:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}
        env |= {
            # What the Dockerfile and docker-compose.yml set.
            "PATH": f"{installed_wheel / 'bin'}:{env.get('PATH', '')}",
            "COACH_CONTENT_DIR": str(ROOT / "content"),  # the image copies it to /app/content
            "COACH_DATA_DIR": str(tmp_path / "data"),
            "COACH_HTTP_LISTEN": f"127.0.0.1:{port}",
            "COACH_DATABASE_URL": postgres_url,
            "COACH_BOT_API_URL": api.root_url,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "PYTHONUNBUFFERED": "1",
        }
        # ENTRYPOINT ["coach"], CMD ["run"]; run from an empty folder like the image's /app.
        process = await asyncio.create_subprocess_exec(
            "coach",
            "run",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            await _wait_healthy(port, process, 60)
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), 20)
        finally:
            if process.returncode is None:
                process.kill()
        output = (await process.stdout.read()).decode() if process.stdout else ""
    assert code == 0, output
    assert (installed_wheel / "bin" / "coach").exists()
