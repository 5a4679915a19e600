"""The best a database-only fix can do: every write locks the revision row first.

One transaction per write: `SELECT ... FOR UPDATE` on the package_revisions row, then the
checks (lifecycle, expected or base version) under that lock, then the write with multi-row
statements. Concurrent writers of a revision queue on the row lock, so none can merge with
another; a render whose base moved is `stale`, a push whose expected version moved `conflict`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

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
from loadtest.modes.legacy import (
    PROPOSED,
    TRANSITIONS,
    error_result,
    rejected,
    rewrite_refusal,
)
from loadtest.queries import QUERIES

Locked = Callable[[Connection, int, str], Awaitable[Result]]
"""The part of a write that runs under the row lock: (connection, version, lifecycle)."""


class LockedBackend(DatabaseBackend):
    async def _under_lock(self, revision: str, body: Locked) -> Result:
        try:
            async with self.pool.acquire() as connection, connection.transaction():
                row = await connection.fetchrow(
                    QUERIES["lock_revision"], self.names.namespace, revision
                )
                if row is None:
                    return rejected("unknown_revision")
                return await body(connection, version_of(row["updated"]), row["lifecycle"])
        except asyncpg.PostgresError as error:
            return error_result(error)

    async def push(
        self, package: int, revision: str, resources: Mapping[str, str], expected: int | None
    ) -> Result:
        return await self._under_lock(
            revision, self._checked_replace(revision, resources, expected, Status.CONFLICT)
        )

    async def render(
        self, package: int, revision: str, resources: Mapping[str, str], base_version: int
    ) -> Result:
        return await self._under_lock(
            revision, self._checked_replace(revision, resources, base_version, Status.STALE)
        )

    def _checked_replace(
        self, revision: str, resources: Mapping[str, str], wanted: int | None, mismatch: Status
    ) -> Locked:
        async def body(connection: Connection, version: int, lifecycle: str) -> Result:
            refusal = rewrite_refusal(lifecycle, version, wanted, mismatch)
            if refusal is not None:
                return refusal
            return await self._replace(connection, revision, resources)

        return body

    async def lifecycle(self, package: int, revision: str, target: str) -> Result:
        async def body(connection: Connection, version: int, lifecycle: str) -> Result:
            if (lifecycle, target) not in TRANSITIONS:
                return rejected("invalid_transition")
            updated = await connection.fetchval(
                QUERIES["set_lifecycle"], self.names.namespace, revision, target, UPDATED_BY
            )
            return Result(Status.APPLIED, version=version_of(updated))

        return await self._under_lock(revision, body)

    async def publish(self, package: int, revision: str) -> Result:
        async def body(connection: Connection, version: int, lifecycle: str) -> Result:
            if lifecycle != PROPOSED:
                return rejected("invalid_transition")
            updated = await connection.fetchval(
                QUERIES["publish_revision"],
                self.names.namespace,
                revision,
                self.names.package(package),
                UPDATED_BY,
            )
            return Result(Status.APPLIED, version=version_of(updated))

        return await self._under_lock(revision, body)

    async def create_draft(self, draft: NewRevision) -> Result:
        try:
            async with self.pool.acquire() as connection, connection.transaction():
                version = await insert_revision(connection, self.names, draft)
        except asyncpg.PostgresError as error:
            return error_result(error)
        return Result(Status.APPLIED, version=version)

    async def _replace(
        self, connection: Connection, revision: str, resources: Mapping[str, str]
    ) -> Result:
        namespace = self.names.namespace
        updated = await connection.fetchval(
            QUERIES["touch_revision"], namespace, revision, UPDATED_BY, resources_size(resources)
        )
        await connection.execute(QUERIES["delete_resources"], namespace, revision)
        await connection.execute(
            QUERIES["insert_resources"],
            namespace,
            revision,
            list(resources),
            list(resources.values()),
        )
        return Result(Status.APPLIED, version=version_of(updated))
