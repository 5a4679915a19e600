"""The one module through which the writer's SQL runs (procrastinate's `JobManager`).

Each method is one named statement of `sql/queries.sql`, one round trip. asyncpg prepares and
caches a statement per SQL text, so calling the same method again reuses the plan.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from messages.fields import Lifecycle
from messages.outcomes import FINAL_OUTCOME_ADAPTER, Applied, FinalOutcome, Rejected
from writer.errors import RowVanished
from writer.queries import QUERIES
from writer.rows import (
    DeadLetterRow,
    LogEntry,
    Logged,
    LogRecord,
    NewDeadLetter,
    Placement,
    PublishContext,
    RevisionRow,
    version_of,
)


def _version(updated: datetime | None, what: str) -> int:
    if updated is None:
        raise RowVanished(f"{what}: the row is gone")
    return version_of(updated)


def _revision_row(record: asyncpg.Record) -> RevisionRow:
    return RevisionRow(
        package=record["package_k8s_name"],
        revision=record["revision"],
        lifecycle=Lifecycle(record["lifecycle"]),
        latest=record["latest"],
        version=version_of(record["updated"]),
        pending_version=record["pending_version"],
    )


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


Connection = asyncpg.Connection | PoolConnectionProxy
"""A plain connection or one lent by a pool: the gateway works on either."""


class Gateway:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # -- batch frame ----------------------------------------------------------------------------

    async def begin_locked(
        self, lock_class: int, partition: int, package_keys: Sequence[int]
    ) -> bool:
        """BEGIN and take the batch's locks in one round trip.

        Returns whether this opened the transaction (False: a savepoint in the caller's).
        """
        owned = not self.connection.is_in_transaction()
        sql = QUERIES["begin_locked"].format(
            begin="BEGIN" if owned else "SAVEPOINT batch",
            lock_class=int(lock_class),
            partition=int(partition),
            package_keys=",".join(str(int(key)) for key in package_keys),
        )
        await self.connection.execute(sql)
        return owned

    async def commit(self, owned: bool) -> None:
        query = QUERIES["commit"] if owned else QUERIES["release_batch_savepoint"]
        await self.connection.execute(query)

    async def rollback(self, owned: bool) -> None:
        """Roll back if the connection still can; a broken one is discarded by its pool."""
        if self.connection.is_closed():
            return
        query = QUERIES["rollback"] if owned else QUERIES["rollback_batch_savepoint"]
        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            await self.connection.execute(query)

    async def savepoint(self) -> None:
        await self.connection.execute(QUERIES["savepoint"])

    async def release_savepoint(self) -> None:
        await self.connection.execute(QUERIES["release_savepoint"])

    async def rollback_to_savepoint(self) -> None:
        await self.connection.execute(QUERIES["rollback_to_savepoint"])

    async def fetch_logged(self, intent_ids: Iterable[UUID]) -> dict[UUID, Logged]:
        records = await self.connection.fetch(QUERIES["fetch_logged"], list(intent_ids))
        return {
            record["intent_id"]: Logged(
                digest=record["body_digest"],
                status=record["status"],
                outcome=FINAL_OUTCOME_ADAPTER.validate_json(record["outcome"]),
            )
            for record in records
        }

    async def insert_log(self, records: Sequence[LogRecord]) -> None:
        if not records:
            return
        columns: list[list[Any]] = [[] for _ in range(15)]
        for row in records:
            outcome = row.outcome
            values = (
                row.intent_id,
                row.partition,
                row.namespace,
                row.name,
                row.revision_name,
                row.kind,
                row.producer_user,
                row.producer_role,
                outcome.status,
                outcome.reason.value if isinstance(outcome, Rejected) else None,
                outcome.message if isinstance(outcome, Rejected) else None,
                outcome.version if isinstance(outcome, Applied) else None,
                outcome.model_dump_json(),
                row.body_digest,
                row.received_at,
            )
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        await self.connection.execute(QUERIES["insert_log"], *columns)

    # -- repositories ---------------------------------------------------------------------------

    async def insert_repository(
        self,
        namespace: str,
        name: str,
        *,
        directory: str,
        default_ws_name: str,
        meta: str,
        spec: str,
        deployment: bool,
        updated_by: str,
    ) -> int | None:
        """The new repository's version, or None when it already exists (nothing written)."""
        updated = await self.connection.fetchval(
            QUERIES["insert_repository"],
            namespace,
            name,
            directory,
            default_ws_name,
            meta,
            spec,
            updated_by,
            deployment,
        )
        return None if updated is None else version_of(updated)

    async def update_repository(
        self, namespace: str, name: str, *, meta: str, spec: str, deployment: bool, updated_by: str
    ) -> int | None:
        """The repository's new version, or None when there is no such repository."""
        updated = await self.connection.fetchval(
            QUERIES["update_repository"], namespace, name, meta, spec, deployment, updated_by
        )
        return None if updated is None else version_of(updated)

    async def fetch_repository_packages(self, namespace: str, repository: str) -> list[str]:
        records = await self.connection.fetch(
            QUERIES["fetch_repository_packages"], namespace, repository
        )
        return [record["k8s_name"] for record in records]

    async def lock_packages(self, package_keys: Sequence[int]) -> None:
        await self.connection.fetchval(QUERIES["lock_packages"], list(package_keys))

    async def delete_repository(self, namespace: str, name: str) -> bool:
        deleted = await self.connection.fetchval(QUERIES["delete_repository"], namespace, name)
        return deleted is not None

    # -- package revisions ----------------------------------------------------------------------

    async def fetch_revision(self, namespace: str, name: str) -> RevisionRow | None:
        record = await self.connection.fetchrow(QUERIES["fetch_revision"], namespace, name)
        return None if record is None else _revision_row(record)

    async def fetch_revision_for_rewrite(
        self, namespace: str, name: str
    ) -> tuple[RevisionRow, dict[str, str]] | None:
        """The revision and the md5 digest of each of its resources, in one round trip."""
        record = await self.connection.fetchrow(
            QUERIES["fetch_revision_for_rewrite"], namespace, name
        )
        if record is None:
            return None
        digests = dict(zip(record["keys"] or (), record["digests"] or (), strict=True))
        return _revision_row(record), digests

    async def rewrite_resources(
        self,
        namespace: str,
        name: str,
        revision: int,
        *,
        deleted: Sequence[str],
        upserted: Sequence[tuple[str, str]],
        resources_size: int,
        kptfile_status: str | None,
        updated_by: str,
        pending: str,
        steps: int = 1,
    ) -> int:
        """The resources diff and the revision's new stamp in one statement; the new version.

        `pending` is `set` (a render is now due), `clear` (one was applied) or `keep`. The new
        version is at least `steps` microseconds past the old, leaving a version for each of
        the `steps` intents folded into this write.
        """
        updated = await self.connection.fetchval(
            QUERIES["rewrite_resources"],
            namespace,
            name,
            revision,
            list(deleted),
            [key for key, _ in upserted],
            [value for _, value in upserted],
            resources_size,
            kptfile_status,
            updated_by,
            pending,
            steps,
        )
        return _version(updated, f"package revision {namespace}/{name}")

    async def fetch_placement(
        self, namespace: str, repository: str, package: str, revision_name: str
    ) -> Placement:
        record = await self.connection.fetchrow(
            QUERIES["fetch_placement"], namespace, repository, package, revision_name
        )
        assert record is not None  # a SELECT over one row always returns it
        return Placement(
            repository_exists=record["repository_exists"],
            package_repository=record["package_repository"],
            revision=None if record["package_k8s_name"] is None else _revision_row(record),
        )

    async def ensure_package(
        self, namespace: str, package: str, *, repository: str, package_path: str, updated_by: str
    ) -> None:
        await self.connection.execute(
            QUERIES["ensure_package"], namespace, package, repository, package_path, updated_by
        )

    async def insert_revision(
        self,
        namespace: str,
        name: str,
        *,
        package: str,
        lifecycle: Lifecycle,
        meta: str,
        spec: str,
        tasks: str,
        resources_size: int,
        updated_by: str,
    ) -> int:
        updated = await self.connection.fetchval(
            QUERIES["insert_revision"],
            namespace,
            name,
            package,
            meta,
            spec,
            updated_by,
            lifecycle.value,
            tasks,
            resources_size,
        )
        return _version(updated, "insert_revision")

    async def upsert_synced_revision(
        self,
        namespace: str,
        name: str,
        *,
        package: str,
        revision: int,
        lifecycle: Lifecycle,
        ext_pr_id: str,
        meta: str,
        spec: str,
        tasks: str,
        resources_size: int,
        updated_by: str,
    ) -> int:
        updated = await self.connection.fetchval(
            QUERIES["upsert_synced_revision"],
            namespace,
            name,
            package,
            revision,
            meta,
            spec,
            updated_by,
            lifecycle.value,
            ext_pr_id,
            tasks,
            resources_size,
        )
        return _version(updated, "upsert_synced_revision")

    async def update_lifecycle(
        self, namespace: str, name: str, lifecycle: Lifecycle, *, updated_by: str
    ) -> int:
        updated = await self.connection.fetchval(
            QUERIES["update_lifecycle"], namespace, name, lifecycle.value, updated_by
        )
        return _version(updated, "update_lifecycle")

    async def update_metadata(
        self,
        namespace: str,
        name: str,
        *,
        meta: str | None,
        spec: str | None,
        tasks: str | None,
        kptfile_status: str | None,
        updated_by: str,
    ) -> int:
        """Sets the given columns; None leaves a column as it is."""
        updated = await self.connection.fetchval(
            QUERIES["update_metadata"],
            namespace,
            name,
            meta,
            spec,
            tasks,
            kptfile_status,
            updated_by,
        )
        return _version(updated, "update_metadata")

    async def fetch_publish_context(
        self, namespace: str, name: str, package: str
    ) -> PublishContext:
        record = await self.connection.fetchrow(
            QUERIES["fetch_publish_context"], namespace, name, package
        )
        assert record is not None  # a SELECT without FROM always returns its row
        return PublishContext(
            has_kptfile=record["has_kptfile"], max_revision=record["max_revision"]
        )

    async def publish_revision(
        self, namespace: str, name: str, *, package: str, revision: int, updated_by: str
    ) -> int:
        updated = await self.connection.fetchval(
            QUERIES["publish_revision"], namespace, name, package, revision, updated_by
        )
        return _version(updated, "publish_revision")

    async def refresh_latest(self, namespace: str, package: str) -> None:
        await self.connection.execute(QUERIES["refresh_latest"], namespace, package)

    async def delete_revision(self, namespace: str, name: str) -> bool | None:
        """Whether the deleted revision was the latest; None when there was none."""
        latest: bool | None = await self.connection.fetchval(
            QUERIES["delete_revision"], namespace, name
        )
        return latest

    async def delete_package_if_empty(self, namespace: str, package: str) -> bool:
        deleted = await self.connection.fetchval(
            QUERIES["delete_package_if_empty"], namespace, package
        )
        return deleted is not None

    async def set_render_pending(self, namespace: str, name: str, version: int) -> None:
        await self.connection.execute(QUERIES["set_render_pending"], namespace, name, version)

    async def fetch_resource_digests(self, namespace: str, name: str) -> dict[str, str]:
        """{resource_key: md5 hex of its value} for every resource of the revision."""
        records = await self.connection.fetch(QUERIES["fetch_resource_digests"], namespace, name)
        return {record["resource_key"]: record["digest"] for record in records}

    async def delete_resources(self, namespace: str, name: str, keys: Sequence[str]) -> None:
        await self.connection.execute(QUERIES["delete_resources"], namespace, name, list(keys))

    async def upsert_resources(
        self, namespace: str, name: str, revision: int, resources: Sequence[tuple[str, str]]
    ) -> None:
        keys = [key for key, _ in resources]
        values = [value for _, value in resources]
        await self.connection.execute(
            QUERIES["upsert_resources"], namespace, name, revision, keys, values
        )

    # -- dead letters and verification ----------------------------------------------------------

    async def record_dead_letter(self, letter: NewDeadLetter) -> tuple[int, bool]:
        """(the dead letter's id, whether an intent_log row was written for it)."""
        record = await self.connection.fetchrow(
            QUERIES["record_dead_letter"],
            letter.log_id,
            letter.intent_id,
            letter.queue,
            letter.partition,
            letter.kind,
            letter.reason,
            letter.death_count,
            letter.properties_json,
            letter.headers_json,
            letter.body,
            letter.namespace,
            letter.name,
            letter.revision_name,
            letter.producer_user,
            letter.producer_role,
            letter.message,
            letter.outcome_json,
            letter.body_digest,
            letter.received_at,
        )
        assert record is not None
        return record["id"], record["logged"]

    async def list_dead_letters(self, *, include_replayed: bool = False) -> list[DeadLetterRow]:
        records = await self.connection.fetch(QUERIES["list_dead_letters"], include_replayed)
        return [
            DeadLetterRow(
                **{
                    **dict(record),
                    "properties": json.loads(record["properties"]),
                    "headers": json.loads(record["headers"]),
                }
            )
            for record in records
        ]

    async def mark_replayed(self, ids: Iterable[int]) -> list[int]:
        """Marks the dead letters replayed; returns the ids that were not marked before."""
        records = await self.connection.fetch(QUERIES["mark_replayed"], list(ids))
        return sorted(record["id"] for record in records)

    async def fetch_outcomes(self, intent_ids: Iterable[UUID]) -> dict[UUID, FinalOutcome]:
        records = await self.connection.fetch(QUERIES["fetch_outcomes"], list(intent_ids))
        return {
            record["intent_id"]: FINAL_OUTCOME_ADAPTER.validate_json(record["outcome"])
            for record in records
        }

    async def fetch_log_in_order(self, namespace: str | None = None) -> list[LogEntry]:
        records = await self.connection.fetch(QUERIES["fetch_log_in_order"], namespace)
        return [
            LogEntry(
                **{
                    **dict(record),
                    "outcome": FINAL_OUTCOME_ADAPTER.validate_json(record["outcome"]),
                }
            )
            for record in records
        ]

    # -- migrations -----------------------------------------------------------------------------

    async def create_database(self, name: str) -> None:
        statement = QUERIES["create_database"].format(database=quote_identifier(name))
        await self.connection.execute(statement)

    async def lock_migrations(self, lock_class: int, key: int) -> None:
        await self.connection.fetchval(QUERIES["lock_migrations"], lock_class, key)

    async def unlock_migrations(self, lock_class: int, key: int) -> None:
        await self.connection.fetchval(QUERIES["unlock_migrations"], lock_class, key)

    async def create_migrations_table(self) -> None:
        await self.connection.execute(QUERIES["create_migrations_table"])

    async def applied_migrations(self) -> set[int]:
        records = await self.connection.fetch(QUERIES["applied_migrations"])
        return {record["version"] for record in records}

    async def record_migration(self, version: int, name: str) -> None:
        await self.connection.execute(QUERIES["record_migration"], version, name)

    async def run_script(self, script: str) -> None:
        """A migration file: several statements, sent as one simple query."""
        await self.connection.execute(script)
