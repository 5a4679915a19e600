"""Database faults, aimed at one writer's sessions (found by application_name in one database):
terminate them, terminate one inside an open transaction, or make the database refuse
connections for a while."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from tests.services import database_url_named
from tests.waiting import wait_until


@dataclass(frozen=True)
class Backend:
    pid: int
    application_name: str
    state: str | None
    in_transaction: bool


class DatabaseFaults:
    """Needs a connection to another database of the same server (ALTER DATABASE needs one)."""

    def __init__(self, admin: asyncpg.Connection, database: str) -> None:
        self.admin = admin
        self.database = database
        self.terminated = 0
        self.terminated_in_transaction = 0
        self.refusals = 0

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, database_url: str) -> AsyncIterator[DatabaseFaults]:
        database = database_url.rsplit("/", 1)[-1]
        admin = await asyncpg.connect(
            database_url_named(database_url, "postgres"),
            server_settings={"application_name": "fault-injector"},
        )
        try:
            yield cls(admin, database)
        finally:
            # Whatever happened, the database accepts connections again.
            await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
            await admin.close()

    async def backends(self, names: list[str]) -> list[Backend]:
        records = await self.admin.fetch(
            "SELECT pid, application_name, state, xact_start IS NOT NULL AS in_transaction "
            "FROM pg_stat_activity WHERE datname = $1 AND application_name = ANY($2::text[]) "
            "ORDER BY state_change DESC NULLS LAST",
            self.database,
            names,
        )
        return [Backend(**dict(record)) for record in records]

    async def terminate(self, backends: list[Backend]) -> int:
        killed = 0
        for backend in backends:
            if await self.admin.fetchval("SELECT pg_terminate_backend($1)", backend.pid):
                killed += 1
                self.terminated += 1
                self.terminated_in_transaction += backend.in_transaction
        return killed

    async def terminate_all(self, names: list[str]) -> int:
        return await self.terminate(await self.backends(names))

    async def wait_busy(self, names: list[str], timeout: float = 60.0) -> Backend:
        """A session of these writers caught inside an open transaction."""

        async def busy() -> Backend | None:
            for backend in await self.backends(names):
                if backend.in_transaction and backend.state in ("active", "idle in transaction"):
                    return backend
            return None

        found = await wait_until(busy, timeout=timeout, interval=0.001, what="a writer transaction")
        assert found is not None
        return found

    async def terminate_in_transaction(self, names: list[str]) -> Backend:
        backend = await self.wait_busy(names)
        await self.terminate([backend])
        return backend

    async def refuse_connections(self, names: list[str]) -> None:
        await self.admin.execute(f'ALTER DATABASE "{self.database}" ALLOW_CONNECTIONS false')
        await self.terminate_all(names)
        self.refusals += 1

    async def accept_connections(self) -> None:
        await self.admin.execute(f'ALTER DATABASE "{self.database}" ALLOW_CONNECTIONS true')


@dataclass
class LockWaits:
    samples: int = 0
    waiting: int = 0
    """Samples that caught a writer session waiting for an advisory lock."""


async def _sample_lock_waits(
    faults: DatabaseFaults, names: list[str], stop: asyncio.Event, seen: LockWaits
) -> None:
    while not stop.is_set():
        waiting = await faults.admin.fetchval(
            "SELECT count(*) FROM pg_locks AS l JOIN pg_stat_activity AS a USING (pid) "
            "WHERE l.locktype = 'advisory' AND NOT l.granted "
            "AND a.datname = $1 AND a.application_name = ANY($2::text[])",
            faults.database,
            names,
        )
        seen.samples += 1
        seen.waiting += bool(waiting)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.005)


@contextlib.asynccontextmanager
async def sampling_lock_waits(faults: DatabaseFaults, names: list[str]) -> AsyncIterator[LockWaits]:
    """Watch pg_locks while the block runs: did one writer wait for another's advisory lock?"""
    stop = asyncio.Event()
    seen = LockWaits()
    task = asyncio.create_task(_sample_lock_waits(faults, names, stop, seen))
    try:
        yield seen
    finally:
        stop.set()
        await task
