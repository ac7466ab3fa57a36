"""A TCP proxy in front of the real PostgreSQL server that a test can cut and restore.

"The database goes away and comes back" without stopping the shared server: `cut()` closes every
open connection and refuses new ones (connection refused, as from a stopped server); `restore()`
accepts again. It runs its own event loop in a thread, so a test that blocks its own loop on a
query (through another, direct engine) cannot stall the proxy.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import sqlalchemy as sa


class DatabaseProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.connections = 0

    @classmethod
    def for_url(cls, url: str) -> tuple[DatabaseProxy, str]:
        """A started proxy to the server of `url`, and the same URL routed through it."""
        parsed = sa.make_url(url)
        proxy = cls(parsed.host or "127.0.0.1", parsed.port or 5432)
        proxy.start()
        routed = parsed.set(host="127.0.0.1", port=proxy.port)
        return proxy, routed.render_as_string(hide_password=False)

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def start(self) -> None:
        self._thread.start()
        self._call(self._listen(0))

    async def _listen(self, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def cut(self) -> None:
        """The database goes away: open connections drop, new ones are refused."""
        self._call(self._cut())

    def restore(self) -> None:
        """The database is back, on the same address."""
        self._call(self._listen(self.port))

    def ensure_up(self) -> None:
        if self._server is None:
            self.restore()

    def stop(self) -> None:
        self._call(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
