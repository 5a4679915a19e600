"""A TCP proxy in the test's event loop that can cut every connection through it on demand.

Clients (the writer, the producers) connect to the proxy instead of the broker; `drop_all()`
aborts both sides of every proxied connection at once (a reset, as a failing network or a
load balancer would), and the clients must notice and reconnect through the proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from yarl import URL

CHUNK = 65536


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    pumps: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self) -> None:
        for side in (self.client, self.upstream):
            side.transport.abort()


class ChaosProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.port = 0
        self.accepted = 0
        self.dropped = 0
        """Connections cut by `drop_all`."""
        self.drops = 0
        """Calls of `drop_all` that cut at least one connection."""
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, amqp_url: str) -> AsyncIterator[ChaosProxy]:
        url = URL(amqp_url)
        proxy = cls(url.host or "127.0.0.1", url.port or 5672)
        await proxy.start()
        try:
            yield proxy
        finally:
            await proxy.close()

    def url(self, amqp_url: str, **query: str) -> str:
        """`amqp_url` through the proxy (the query carries client options, e.g. reconnect)."""
        url = URL(amqp_url).with_host("127.0.0.1").with_port(self.port)
        return str(url.update_query(query) if query else url)

    @property
    def connections(self) -> int:
        return len(self._links)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        links = list(self._links)
        for link in links:
            link.abort()
        await _settle(links)
        if self._server is not None:
            await self._server.wait_closed()

    async def drop_all(self) -> int:
        """Cut every connection now; how many were cut."""
        links = list(self._links)
        for link in links:
            link.abort()
        await _settle(links)
        self.dropped += len(links)
        self.drops += bool(links)
        return len(links)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
        except OSError:
            writer.transport.abort()
            return
        self.accepted += 1
        link = _Link(writer, upstream_writer)
        self._links.add(link)
        link.pumps = [
            asyncio.create_task(self._pump(reader, upstream_writer, link)),
            asyncio.create_task(self._pump(upstream_reader, writer, link)),
        ]

    async def _pump(
        self, source: asyncio.StreamReader, target: asyncio.StreamWriter, link: _Link
    ) -> None:
        try:
            while data := await source.read(CHUNK):
                target.write(data)
                await target.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # One side ended or failed: the whole connection goes, as through a real network.
            link.abort()
            self._links.discard(link)


async def _settle(links: list[_Link]) -> None:
    """Until the pumps of the cut connections have ended."""
    pumps = [pump for link in links for pump in link.pumps]
    if pumps:
        await asyncio.gather(*pumps, return_exceptions=True)
