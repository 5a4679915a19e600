"""The writer daemon: one actor per served partition, supervised, on one AMQP connection.

A lost broker connection stops every actor (their unacked deliveries return to the queues) and
the daemon reconnects with backoff; a lost database halts the partitions in place until it is
back. Anything else that escapes an actor stops the whole daemon rather than leaving it half
alive.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import aio_pika
import aiormq
import asyncpg
import structlog
from aio_pika.abc import AbstractConnection

from messages.settings import Settings
from producers.topology import Topology, declare
from writer.actor import PartitionActor
from writer.dlq import DeadLetterWatcher
from writer.errors import BrokerLost
from writer.roles import Authorizer
from writer.schema_check import wait_for_schema

log = structlog.get_logger(__name__)


class Writer:
    def __init__(
        self,
        settings: Settings,
        *,
        partitions: Sequence[int] | None = None,
        until_empty: bool = False,
        name: str = "porch-writer",
        watch_dead_letters: bool = True,
    ) -> None:
        self.settings = settings
        self.topology = Topology.from_settings(settings)
        self.partitions = list(range(settings.partitions) if partitions is None else partitions)
        bad = [index for index in self.partitions if not 0 <= index < settings.partitions]
        if bad:
            raise ValueError(f"partitions {bad} are outside 0..{settings.partitions - 1}")
        self.until_empty = until_empty
        self.name = name
        self.watch_dead_letters = watch_dead_letters
        self.actors: dict[int, PartitionActor] = {}
        self.actors_created = asyncio.Event()
        """Set once `actors` holds this connection's actors (tests wait on it)."""
        self._authorizer = Authorizer(settings.producer_roles)
        self._stop = asyncio.Event()
        self._main: asyncio.Task[object] | None = None
        self._watcher: DeadLetterWatcher | None = None

    def stop(self) -> None:
        """Finish the batches in flight, close the channels, return."""
        self._stop.set()

    def force_stop(self) -> None:
        """Return now; batches in flight are rolled back and not acknowledged."""
        self._stop.set()
        if self._main is not None:
            self._main.cancel()

    async def run(self) -> None:
        self._main = asyncio.current_task()
        self._authorizer.warn_if_open()
        log.info("writer.starting", partitions=self.partitions, until_empty=self.until_empty)
        pool = await asyncpg.create_pool(
            self.settings.database_url,
            min_size=0,
            max_size=min(len(self.partitions), 16) + 2,
            # Shown in pg_stat_activity, so operators (and fault tests) can find the writer.
            server_settings={"application_name": self.name},
        )
        try:
            if await wait_for_schema(pool, self._stop, self.settings):
                await self._run_connected(pool)
        finally:
            await pool.close()
        log.info("writer.stopped")

    async def _run_connected(self, pool: asyncpg.Pool) -> None:
        backoff = self.settings.retry_initial_s
        while not self._stop.is_set():
            try:
                connection = await aio_pika.connect(
                    self.settings.amqp_url,
                    timeout=10,
                    client_properties={"connection_name": self.name},
                )
            except (OSError, aiormq.exceptions.AMQPError, TimeoutError) as error:
                log.warning("broker.unreachable", error=repr(error), retry_in_s=backoff)
                await self._pause(backoff)
                backoff = min(backoff * 2, self.settings.retry_max_s)
                continue
            try:
                await declare(connection, self.topology)
                # Connected: a later loss is a new outage, retried from the shortest pause.
                backoff = self.settings.retry_initial_s
                await self._supervise(connection, pool)
                return
            except (BrokerLost, aiormq.exceptions.AMQPConnectionError, ConnectionError) as error:
                log.warning("broker.lost", error=repr(error), retry_in_s=backoff)
            finally:
                with contextlib.suppress(Exception):
                    await connection.close()
            await self._pause(backoff)
            backoff = min(backoff * 2, self.settings.retry_max_s)

    async def _supervise(self, connection: AbstractConnection, pool: asyncpg.Pool) -> None:
        lost = asyncio.Event()
        connection.close_callbacks.add(lambda *_: lost.set())
        self.actors = {
            index: PartitionActor(
                index,
                connection=connection,
                pool=pool,
                topology=self.topology,
                settings=self.settings,
                authorizer=self._authorizer,
                stop=self._stop,
                until_empty=self.until_empty,
            )
            for index in self.partitions
        }
        self.actors_created.set()
        actors = {
            asyncio.create_task(a.run(), name=f"partition-{i}") for i, a in self.actors.items()
        }
        helpers = set()
        if self.watch_dead_letters:
            watcher = DeadLetterWatcher(connection, pool, self.topology, self.settings, self._stop)
            self._watcher = watcher
            helpers.add(asyncio.create_task(watcher.run(), name="dead-letters"))
        waiters: set[asyncio.Task[bool]] = {
            asyncio.create_task(lost.wait()),
            asyncio.create_task(self._stop.wait()),
        }
        try:
            await self._watch(actors, helpers, waiters, lost)
        finally:
            await _cancel_all(actors | helpers | waiters)

    async def _watch(
        self,
        actors: set[asyncio.Task[None]],
        helpers: set[asyncio.Task[None]],
        waiters: set[asyncio.Task[bool]],
        lost: asyncio.Event,
    ) -> None:
        running = set(actors | helpers)
        while actors & running:
            done, _ = await asyncio.wait(running | waiters, return_when=asyncio.FIRST_COMPLETED)
            for task in done & running:
                running.discard(task)
                task.result()  # an actor's failure stops the daemon (or, BrokerLost, reconnects)
            if lost.is_set():
                raise BrokerLost("the AMQP connection closed")
            if self._stop.is_set():
                # Graceful: each actor finishes its batch in flight and closes its channel.
                _, late = await asyncio.wait(running, timeout=self.settings.shutdown_grace_s)
                if late:
                    log.warning("writer.grace_exceeded", unfinished=len(late))
                return
        await self._drain_dead_letters(running)
        self._stop.set()  # drained: the dead-letter watcher stops too
        await asyncio.wait(running, timeout=self.settings.shutdown_grace_s)

    async def _drain_dead_letters(self, running: set[asyncio.Task[None]]) -> None:
        """In drain mode, record what the broker dead-lettered before returning.

        The broker moves a delivery to the dead-letter queue asynchronously after its last
        return, so an empty queue must be seen twice, a moment apart.
        """
        if self._watcher is None or not running:
            return
        empty_checks = 0
        deadline = asyncio.get_running_loop().time() + self.settings.shutdown_grace_s
        while empty_checks < 2 and asyncio.get_running_loop().time() < deadline:
            empty_checks = empty_checks + 1 if await self._watcher.drained() else 0
            await asyncio.sleep(0.1)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)


async def _cancel_all(tasks: set[asyncio.Task[None]] | set[asyncio.Task[bool]] | set) -> None:  # type: ignore[type-arg]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
