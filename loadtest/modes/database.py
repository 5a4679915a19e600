"""What every mode shares with the database: a pool, porch's read, the version, SQL setup."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from loadtest.ledger import Result, Status
from loadtest.modes import NewRevision, Snapshot
from loadtest.queries import QUERIES
from loadtest.workload import Names

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
UPDATED_BY = "porch-loadtest"

Connection = asyncpg.Connection | PoolConnectionProxy
"""A connection of its own or one borrowed from a pool: both run the same statements."""


def version_of(updated: datetime) -> int:
    """porch's resourceVersion: `updated` in microseconds since the epoch, exact (no float)."""
    return (updated - _EPOCH) // _MICROSECOND


def resources_size(resources: Mapping[str, str]) -> int:
    """porch's resources_size: the total bytes of the values."""
    return sum(len(value.encode()) for value in resources.values())


async def open_pool(database_url: str, size: int) -> asyncpg.Pool:
    # statement_cache_size stays on: every statement here is prepared once per connection.
    return await asyncpg.create_pool(database_url, min_size=min(size, 4), max_size=size)


async def read_revision(
    connection: Connection | asyncpg.Pool, names: Names, revision: str
) -> Snapshot | None:
    row = await connection.fetchrow(QUERIES["read_revision"], names.namespace, revision)
    if row is None:
        return None
    keys, values = row["keys"] or [], row["vals"] or []
    return Snapshot(
        version=version_of(row["updated"]),
        lifecycle=row["lifecycle"],
        resources=dict(zip(keys, values, strict=True)),
    )


async def insert_revision(connection: Connection, names: Names, revision: NewRevision) -> int:
    """A new Draft and its resources, multi-row; the caller decides about the transaction."""
    size = resources_size(revision.resources)
    updated = await connection.fetchval(
        QUERIES["insert_revision"],
        names.namespace,
        revision.revision,
        names.package(revision.package),
        UPDATED_BY,
        size,
    )
    await connection.execute(
        QUERIES["insert_resources"],
        names.namespace,
        revision.revision,
        list(revision.resources),
        list(revision.resources.values()),
    )
    return version_of(updated)


async def setup_namespace(
    pool: asyncpg.Pool, names: Names, revisions: Sequence[NewRevision]
) -> list[int]:
    """Repository, packages and first drafts in one transaction; returns their versions."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(
            QUERIES["insert_repository"], names.namespace, names.repository, UPDATED_BY
        )
        await connection.execute(
            QUERIES["insert_packages"],
            names.namespace,
            names.repository,
            UPDATED_BY,
            [names.package(item.package) for item in revisions],
            [names.package_path(item.package) for item in revisions],
        )
        return [await insert_revision(connection, names, item) for item in revisions]


class DatabaseBackend:
    """The part every backend shares: a connection pool, porch's read, the SQL setup."""

    def __init__(self, database_url: str, names: Names, pool_size: int) -> None:
        self.names = names
        self._database_url = database_url
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the backend is not started: call start()")
        return self._pool

    async def start(self) -> None:
        self._pool = await open_pool(self._database_url, self._pool_size)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def setup(self, revisions: Sequence[NewRevision]) -> list[Result]:
        versions = await setup_namespace(self.pool, self.names, revisions)
        return [Result(Status.APPLIED, version=version) for version in versions]

    async def read(self, revision: str) -> Snapshot | None:
        return await read_revision(self.pool, self.names, revision)

    async def version(self, revision: str) -> int | None:
        row = await self.pool.fetchrow(QUERIES["read_state"], self.names.namespace, revision)
        return None if row is None else version_of(row["updated"])
