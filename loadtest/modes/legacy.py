"""porch's write path today (`legacy`) and the bug report's proposed fix (`direct`).

Both do what porch's dbcache does: check the cached revision (lifecycle, expected version, and
for a render `checkRenderStale`) separately from the write, update the revision row
(`pkgRevUpdateDB`), then replace its resources: DELETE every row, then one INSERT ... ON
CONFLICT per resource in the order of a Go map. `legacy` runs each statement on its own
(autocommit); `direct` wraps the DELETE and the INSERTs in one READ COMMITTED transaction, which
the DELETE's snapshot still lets merge with a concurrent writer's rows.

A lifecycle change rewrites the resources from the copy it read, as porch's does.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping

import asyncpg

from loadtest.ledger import Result, Status
from loadtest.modes import NewRevision
from loadtest.modes.database import (
    UPDATED_BY,
    Connection,
    DatabaseBackend,
    insert_revision,
    resources_size,
    version_of,
)
from loadtest.queries import QUERIES
from loadtest.workload import Names

DRAFT, PROPOSED = "Draft", "Proposed"
TRANSITIONS = frozenset({(DRAFT, PROPOSED), (PROPOSED, DRAFT)})


def error_result(error: asyncpg.PostgresError) -> Result:
    return Result(Status.ERROR, detail=type(error).__name__)


def rejected(detail: str) -> Result:
    return Result(Status.REJECTED, detail=detail)


def rewrite_refusal(
    lifecycle: str, version: int, wanted: int | None, mismatch: Status
) -> Result | None:
    """porch's checks before a push or a render rewrites resources: the revision is a Draft at
    the version the writer wants (a push may want none); `mismatch` answers another version."""
    if lifecycle != DRAFT:
        return rejected("not_draft")
    if wanted is not None and version != wanted:
        return Result(mismatch)
    return None


class LegacyBackend(DatabaseBackend):
    def __init__(
        self, database_url: str, names: Names, pool_size: int, *, atomic: bool = False
    ) -> None:
        super().__init__(database_url, names, pool_size)
        self._atomic = atomic

    async def push(
        self, package: int, revision: str, resources: Mapping[str, str], expected: int | None
    ) -> Result:
        return await self._check_then_write(revision, resources, expected, Status.CONFLICT)

    async def render(
        self, package: int, revision: str, resources: Mapping[str, str], base_version: int
    ) -> Result:
        # checkRenderStale, like the push's check: a read, then (not atomically) the write.
        return await self._check_then_write(revision, resources, base_version, Status.STALE)

    async def _check_then_write(
        self, revision: str, resources: Mapping[str, str], wanted: int | None, mismatch: Status
    ) -> Result:
        async with self.pool.acquire() as connection:
            state = await connection.fetchrow(QUERIES["read_state"], self.names.namespace, revision)
            if state is None:
                return rejected("unknown_revision")
            version = version_of(state["updated"])
            refusal = rewrite_refusal(state["lifecycle"], version, wanted, mismatch)
            if refusal is not None:
                return refusal
            return await self._write(connection, revision, resources)

    async def lifecycle(self, package: int, revision: str, target: str) -> Result:
        async with self.pool.acquire() as connection:
            # porch's in-memory copy of the revision, resources included.
            copy = await self.read(revision)
            if copy is None:
                return rejected("unknown_revision")
            if (copy.lifecycle, target) not in TRANSITIONS:
                return rejected("invalid_transition")
            try:
                updated = await connection.fetchval(
                    QUERIES["set_lifecycle"], self.names.namespace, revision, target, UPDATED_BY
                )
                async with self._maybe_transaction(connection):
                    await self._replace(connection, revision, copy.resources)
            except asyncpg.PostgresError as error:
                return error_result(error)
            return Result(Status.APPLIED, version=version_of(updated))

    async def publish(self, package: int, revision: str) -> Result:
        async with self.pool.acquire() as connection:
            state = await connection.fetchrow(QUERIES["read_state"], self.names.namespace, revision)
            if state is None or state["lifecycle"] != PROPOSED:
                return rejected("invalid_transition")
            try:
                updated = await connection.fetchval(
                    QUERIES["publish_revision"],
                    self.names.namespace,
                    revision,
                    self.names.package(package),
                    UPDATED_BY,
                )
            except asyncpg.PostgresError as error:
                return error_result(error)
            return Result(Status.APPLIED, version=version_of(updated))

    async def create_draft(self, draft: NewRevision) -> Result:
        async with self.pool.acquire() as connection:
            try:
                async with self._maybe_transaction(connection):
                    version = await insert_revision(connection, self.names, draft)
            except asyncpg.PostgresError as error:
                return error_result(error)
            return Result(Status.APPLIED, version=version)

    async def _write(
        self, connection: Connection, revision: str, resources: Mapping[str, str]
    ) -> Result:
        try:
            updated = await connection.fetchval(
                QUERIES["touch_revision"],
                self.names.namespace,
                revision,
                UPDATED_BY,
                resources_size(resources),
            )
            if updated is None:
                return rejected("unknown_revision")
            async with self._maybe_transaction(connection):
                await self._replace(connection, revision, resources)
        except asyncpg.PostgresError as error:
            return error_result(error)
        return Result(Status.APPLIED, version=version_of(updated))

    async def _replace(
        self, connection: Connection, revision: str, resources: Mapping[str, str]
    ) -> None:
        """pkgRevResourcesWriteToDB: DELETE all, then one upsert per resource."""
        namespace = self.names.namespace
        await connection.execute(QUERIES["delete_resources"], namespace, revision)
        # Autocommit: in the order they come (a Go map's: random). In one transaction, random
        # orders deadlock each other (PostgreSQL breaks each after deadlock_timeout, a second),
        # which would measure deadlocks rather than the merging; so the transaction writes in
        # key order, as a careful implementation of the proposed fix would.
        keys = sorted(resources) if self._atomic else list(resources)
        for key in keys:
            await connection.execute(
                QUERIES["upsert_resource"], namespace, revision, key, resources[key]
            )

    @contextlib.asynccontextmanager
    async def _maybe_transaction(self, connection: Connection) -> AsyncIterator[None]:
        if self._atomic:
            async with connection.transaction(isolation="read_committed"):
                yield
        else:
            yield
