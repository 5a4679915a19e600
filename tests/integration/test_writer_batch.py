"""The batch transaction: exactly-once effect, id reuse, early rejections, the savepoint
fallback for data errors, transient errors left to the caller, the log in apply order."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import asyncpg
import pytest

from messages.envelope import Received, reused_id
from messages.errors import IntentRejected
from messages.fields import Lifecycle
from messages.outcomes import Applied, Duplicate, FinalOutcome, Outcome, Rejected, RejectReason
from tests.dbstate import resources_of, revision_row, snapshot
from tests.factories import (
    NS,
    REPO,
    applied_version,
    apply,
    apply_items,
    make_create,
    make_lifecycle,
    make_metadata,
    make_push,
    make_repository,
    partition_for,
    rejected_item,
    sample_resources,
    setup_draft,
    to_item,
    to_received,
)
from tests.waiting import wait_until
from writer.batch import PARTITION_LOCK_CLASS, apply_batch
from writer.gateway import Gateway
from writer.transient import is_transient

PKG, REV = "pkg", "pkg-v1"


def final(outcome: Outcome) -> FinalOutcome:
    assert not isinstance(outcome, Duplicate), outcome
    return outcome


async def log_rows(db: asyncpg.Connection) -> list[asyncpg.Record]:
    return await db.fetch("SELECT * FROM intent_log ORDER BY seq")


async def test_a_batch_applied_twice_is_all_duplicates_the_second_time(
    db: asyncpg.Connection,
) -> None:
    items = [
        to_item(make_repository()),
        to_item(make_create(NS, PKG, REV)),
        to_item(make_push(NS, PKG, REV, sample_resources(a__yaml="1"))),
        to_item(make_lifecycle(NS, PKG, REV, Lifecycle.PROPOSED)),
        to_item(make_push(NS, PKG, REV, sample_resources())),  # not_draft by now
    ]
    first = await apply_items(db, items)
    assert [outcome.status for outcome in first] == ["applied"] * 4 + ["rejected"]
    state, log = await snapshot(db), await log_rows(db)

    second = await apply_items(db, items)

    assert second == [
        Duplicate(intent_id=item.log_id, original=final(outcome))
        for item, outcome in zip(items, first, strict=True)
    ]
    assert await snapshot(db) == state
    assert await log_rows(db) == log


async def test_a_redelivery_within_the_batch_is_a_duplicate_of_the_first(
    db: asyncpg.Connection,
) -> None:
    await setup_draft(db, PKG, REV)
    item = to_item(make_push(NS, PKG, REV, sample_resources(a__yaml="1")))

    first, again = await apply_items(db, [item, item])

    assert isinstance(first, Applied)
    assert again == Duplicate(intent_id=item.log_id, original=final(first))
    assert await db.fetchval("SELECT count(*) FROM intent_log WHERE intent_id = $1", item.log_id)


async def test_an_id_reused_for_another_body_is_rejected_and_recorded_apart(
    db: asyncpg.Connection,
) -> None:
    await setup_draft(db, PKG, REV)
    original = make_push(NS, PKG, REV, sample_resources(a__yaml="1"))
    impostor = original.model_copy(update={"resources": sample_resources(a__yaml="evil")})
    (applied,) = await apply(db, original)

    reused = to_item(impostor)
    (outcome,) = await apply_items(db, [reused])

    assert isinstance(outcome, Rejected)
    assert outcome.reason is RejectReason.ID_REUSED
    assert outcome.intent_id == original.intent_id
    assert await resources_of(db, NS, REV) == original.resources
    recorded_under = reused_id(reused.log_id, reused.received.body)
    recorded = await Gateway(db).fetch_outcomes([original.intent_id, recorded_under])
    assert recorded == {original.intent_id: applied, recorded_under: outcome}
    # Both deliveries, redelivered, answer their own recorded outcome.
    again = await apply_items(db, [to_item(original), reused])
    assert again == [
        Duplicate(intent_id=original.intent_id, original=final(applied)),
        Duplicate(intent_id=original.intent_id, original=outcome),
    ]


async def test_id_reuse_within_one_batch(db: asyncpg.Connection) -> None:
    await setup_draft(db, PKG, REV)
    original = make_push(NS, PKG, REV, sample_resources(a__yaml="1"))
    impostor = to_item(original.model_copy(update={"resources": {}}))

    applied, reused, again = await apply_items(db, [to_item(original), impostor, impostor])

    assert isinstance(applied, Applied)
    assert isinstance(reused, Rejected)
    assert reused.reason is RejectReason.ID_REUSED
    assert again == Duplicate(intent_id=original.intent_id, original=reused)
    assert await resources_of(db, NS, REV) == original.resources


async def test_early_rejections_are_recorded_and_deduplicated(db: asyncpg.Connection) -> None:
    garbage = Received(body=b"{not json", content_type="application/json", message_id="m-1")
    forbidden_intent = make_push(NS, PKG, REV, sample_resources())
    forbidden = to_received(forbidden_intent, user_id="intruder")
    items = [
        rejected_item(garbage, IntentRejected(RejectReason.INVALID_JSON, "body is not JSON")),
        rejected_item(forbidden, IntentRejected(RejectReason.FORBIDDEN, "intruder may not")),
    ]

    first = await apply_batch(db, 0, items)
    second = await apply_batch(db, 0, items)

    assert [(o.status, getattr(o, "reason", None)) for o in first.outcomes] == [
        ("rejected", RejectReason.INVALID_JSON),
        ("rejected", RejectReason.FORBIDDEN),
    ]
    assert [o.status for o in second.outcomes] == ["duplicate", "duplicate"]
    rows = await log_rows(db)
    assert [(row["kind"], row["producer_user"], row["reason"]) for row in rows] == [
        (None, None, "invalid_json"),
        ("resources_update", "intruder", "forbidden"),
    ]


async def test_a_data_error_rejects_only_its_intent(db: asyncpg.Connection) -> None:
    await setup_draft(db, PKG, REV)
    logged_before = len(await log_rows(db))
    items = [
        to_item(make_create(NS, "a", "a-v1")),
        # PostgreSQL text cannot hold NUL: the database, not the writer, refuses this one.
        to_item(make_push(NS, PKG, REV, sample_resources(bad__yaml="nul \x00 here"))),
        to_item(make_create(NS, "c", "c-v1")),
    ]

    result = await apply_batch(db, 0, items)

    assert result.isolated
    created_a, refused, created_c = result.outcomes
    assert isinstance(created_a, Applied)
    assert isinstance(created_c, Applied)
    assert isinstance(refused, Rejected)
    assert refused.reason is RejectReason.CONSTRAINT_VIOLATION
    assert "0x00" in refused.message
    assert await resources_of(db, NS, REV) == sample_resources()
    assert await revision_row(db, NS, "a-v1") is not None
    assert len(await log_rows(db)) == logged_before + 3


async def test_a_concurrent_repository_removal_is_caught_by_the_rerun(
    database_url: str, db: asyncpg.Connection
) -> None:
    """The repository is there when checked, gone when the package row references it: the
    foreign key refuses, and the savepoint rerun sees the removal and rejects cleanly."""
    await apply(db, make_repository(), make_repository(repo="repo2"))
    remover = await asyncpg.connect(database_url)
    try:
        removal = remover.transaction()
        await removal.start()
        # A removal in flight that took no package lock (as a writer with another partition
        # count could not know of packages created meanwhile): the row is locked, not gone yet.
        await remover.execute(
            "DELETE FROM repositories WHERE k8s_name_space = $1 AND k8s_name = $2", NS, REPO
        )
        creates = [
            to_item(make_create(NS, "a", "a-v1")),
            to_item(make_create(NS, "b", "b-v1", repository="repo2")),
        ]
        task = asyncio.create_task(apply_batch(db, 0, creates))
        await wait_until(lambda: _waits_on_lock(remover, task), what="the create to wait")
        await removal.commit()
        result = await asyncio.wait_for(task, timeout=30)
    finally:
        await remover.close()

    assert result.isolated
    refused, created = result.outcomes
    assert isinstance(refused, Rejected)
    assert refused.reason is RejectReason.UNKNOWN_REPOSITORY
    assert isinstance(created, Applied)


async def _waits_on_lock(observer: asyncpg.Connection, task: asyncio.Task[object]) -> bool:
    assert not task.done(), task
    return bool(
        await observer.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock')"
        )
    )


async def test_a_lock_timeout_propagates_as_transient_and_applies_nothing(
    database_url: str, db: asyncpg.Connection
) -> None:
    await setup_draft(db, PKG, REV)
    intent = make_push(NS, PKG, REV, sample_resources(a__yaml="1"))
    partition = partition_for(intent)
    before = await snapshot(db)
    blocker = await asyncpg.connect(database_url)
    try:
        async with blocker.transaction():
            await Gateway(blocker).begin_locked(PARTITION_LOCK_CLASS, partition, [])
            await db.execute("SET lock_timeout = '100ms'")
            with pytest.raises(asyncpg.LockNotAvailableError) as caught:
                await apply_batch(db, partition, [to_item(intent)])
            assert is_transient(caught.value)
            assert await snapshot(db) == before
    finally:
        await blocker.close()

    (outcome,) = await apply_items(db, [to_item(intent)])
    assert isinstance(outcome, Applied)


async def test_a_lost_connection_propagates_as_transient(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    admin = await asyncpg.connect(database_url)
    try:
        pid = connection.get_server_pid()
        await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", pid)
        failure: BaseException | None = None
        try:
            await apply_batch(connection, 0, [to_item(make_repository())])
        except Exception as error:  # whichever way asyncpg notices, it must count as transient
            failure = error
        assert failure is not None
        assert is_transient(failure), repr(failure)
        assert await admin.fetchval("SELECT count(*) FROM intent_log") == 0
    finally:
        await admin.close()
        await connection.close()


async def test_the_log_keeps_the_apply_order(db: asyncpg.Connection) -> None:
    await setup_draft(db, PKG, REV)
    intents = [make_metadata(NS, PKG, REV, meta=f'{{"n": {n}}}') for n in range(5)]
    await apply(db, *intents[:2])
    await apply(db, *intents[2:])
    await applied_version(db, make_repository(ns="elsewhere"))

    entries = await Gateway(db).fetch_log_in_order(NS)

    ids = [entry.intent_id for entry in entries]
    assert ids[-5:] == [intent.intent_id for intent in intents]
    assert [entry.seq for entry in entries] == sorted(entry.seq for entry in entries)
    assert all(entry.namespace == NS for entry in entries)
    assert uuid4() not in ids


async def test_a_batch_is_one_transaction_in_the_log(db: asyncpg.Connection) -> None:
    await apply(db, make_repository(), make_repository(repo="other"))
    await apply(db, make_repository(repo="third"))
    txids = [row["txid"] for row in await db.fetch("SELECT txid FROM intent_log ORDER BY seq")]
    assert txids[0] == txids[1] != txids[2]
