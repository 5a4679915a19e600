"""Guarantee 1 at the database: a package is written by one transaction at a time, whatever
partition number the writers believe it has."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from messages.intents import ResourcesUpdate
from messages.outcomes import Applied
from tests.dbstate import resources_of
from tests.factories import NS, make_push, sample_resources, setup_draft, to_item
from tests.waiting import wait_until
from writer.batch import BatchResult, apply_batch


@pytest.fixture
async def writers(database_url: str) -> AsyncIterator[tuple[asyncpg.Connection, ...]]:
    """Two writer connections and an observer."""
    connections = [await asyncpg.connect(database_url) for _ in range(3)]
    yield tuple(connections)
    for connection in connections:
        await connection.close()


async def waiting_for_advisory_lock(observer: asyncpg.Connection, pid: int) -> bool:
    return bool(
        await observer.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_locks "
            "WHERE pid = $1 AND locktype = 'advisory' AND NOT granted)",
            pid,
        )
    )


async def hold_open(
    connection: asyncpg.Connection, partition: int, push: ResourcesUpdate
) -> BatchResult:
    """A writer stopped right after its batch: the batch runs inside an outer transaction that
    is still open, so its transaction-scoped locks are held (a slow or zombie writer)."""
    return await apply_batch(connection, partition, [to_item(push)])


async def test_one_package_from_two_partition_numbers_is_serialised(
    db: asyncpg.Connection, writers: tuple[asyncpg.Connection, ...]
) -> None:
    first, second, observer = writers
    await setup_draft(db, "pkg", "pkg-v1")
    mine = make_push(NS, "pkg", "pkg-v1", sample_resources(by__yaml="first"))
    theirs = make_push(NS, "pkg", "pkg-v1", sample_resources(by__yaml="second"))

    held = first.transaction()
    await held.start()
    early = await hold_open(first, 1, mine)
    # Another deployment maps the package to partition 2: its partition lock is free.
    late = asyncio.create_task(apply_batch(second, 2, [to_item(theirs)]))
    await wait_until(
        lambda: waiting_for_advisory_lock(observer, second.get_server_pid()),
        what="the second writer to wait for the package lock",
    )
    assert not late.done()
    await held.commit()
    result = await asyncio.wait_for(late, timeout=30)

    (first_outcome,), (second_outcome,) = early.outcomes, result.outcomes
    assert isinstance(first_outcome, Applied)
    assert isinstance(second_outcome, Applied)
    assert second_outcome.version is not None
    assert first_outcome.version is not None
    assert second_outcome.version > first_outcome.version
    assert await resources_of(db, NS, "pkg-v1") == theirs.resources


async def test_a_zombie_on_the_same_partition_blocks_even_other_packages(
    db: asyncpg.Connection, writers: tuple[asyncpg.Connection, ...]
) -> None:
    first, second, observer = writers
    await setup_draft(db, "pkg", "pkg-v1")
    await setup_draft(db, "other", "other-v1")

    held = first.transaction()
    await held.start()
    await hold_open(first, 3, make_push(NS, "pkg", "pkg-v1", sample_resources()))
    late = asyncio.create_task(
        apply_batch(second, 3, [to_item(make_push(NS, "other", "other-v1", {}))])
    )
    await wait_until(
        lambda: waiting_for_advisory_lock(observer, second.get_server_pid()),
        what="the second writer to wait for the partition lock",
    )
    assert not late.done()
    await held.rollback()
    result = await asyncio.wait_for(late, timeout=30)
    assert isinstance(result.outcomes[0], Applied)


async def test_other_packages_on_other_partitions_proceed_meanwhile(
    db: asyncpg.Connection, writers: tuple[asyncpg.Connection, ...]
) -> None:
    first, second, _ = writers
    await setup_draft(db, "pkg", "pkg-v1")
    await setup_draft(db, "other", "other-v1")

    held = first.transaction()
    await held.start()
    try:
        await hold_open(first, 1, make_push(NS, "pkg", "pkg-v1", sample_resources()))
        result = await asyncio.wait_for(
            apply_batch(second, 2, [to_item(make_push(NS, "other", "other-v1", {}))]),
            timeout=30,
        )
        assert isinstance(result.outcomes[0], Applied)
    finally:
        await held.rollback()
