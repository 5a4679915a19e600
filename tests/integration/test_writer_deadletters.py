"""Dead letters: recorded with their reason, told to the producer once, listed and replayed."""

from __future__ import annotations

import dataclasses

import asyncpg

from messages.envelope import Received
from messages.outcomes import Applied, DeadLettered, Duplicate
from tests.factories import (
    NS,
    apply,
    apply_items,
    make_push,
    sample_resources,
    setup_draft,
    to_item,
    to_received,
)
from writer.deadletters import dead_letter_row, list_dead_letters, mark_replayed
from writer.gateway import Gateway

QUEUE = "porch.intents.p01"


async def dead_letter(db: asyncpg.Connection, received: Received) -> bool:
    """Store the dead letter; whether the producer should be told (it was never applied)."""
    letter = dead_letter_row(
        received,
        queue=QUEUE,
        partition=1,
        reason="delivery_limit",
        death_count=20,
        properties={"message_id": received.message_id, "timestamp": b"\x00\x01"},
    )
    _, logged = await Gateway(db).record_dead_letter(letter)
    return logged


async def test_a_never_applied_delivery_is_logged_dead_lettered_and_replayable(
    db: asyncpg.Connection,
) -> None:
    await setup_draft(db, "pkg", "pkg-v1")
    intent = make_push(NS, "pkg", "pkg-v1", sample_resources(a__yaml="1"))
    item = to_item(intent)

    assert await dead_letter(db, item.received)

    outcome = (await Gateway(db).fetch_outcomes([intent.intent_id]))[intent.intent_id]
    assert isinstance(outcome, DeadLettered)
    assert outcome.reason == "delivery_limit"
    (letter,) = await list_dead_letters(db)
    assert (letter.log_id, letter.intent_id, letter.kind, letter.queue) == (
        intent.intent_id,
        intent.intent_id,
        "resources_update",
        QUEUE,
    )
    assert letter.body == item.received.body
    assert letter.death_count == 20

    # A plain redelivery is a duplicate of the dead-lettered outcome; a replay applies it.
    assert await apply_items(db, [item]) == [
        Duplicate(intent_id=intent.intent_id, original=outcome)
    ]
    seq_before = await db.fetchval(
        "SELECT seq FROM intent_log WHERE intent_id = $1", intent.intent_id
    )
    (replayed,) = await apply_items(db, [to_item(intent, replay=True)])
    assert isinstance(replayed, Applied)
    assert (await Gateway(db).fetch_outcomes([intent.intent_id]))[intent.intent_id] == replayed
    seq_after = await db.fetchval(
        "SELECT seq FROM intent_log WHERE intent_id = $1", intent.intent_id
    )
    assert seq_after > seq_before

    assert await mark_replayed(db, [letter.id]) == [letter.id]
    assert await mark_replayed(db, [letter.id]) == []
    assert await list_dead_letters(db) == []
    (kept,) = await list_dead_letters(db, include_replayed=True)
    assert kept.replayed_at is not None


async def test_an_applied_delivery_keeps_its_outcome_and_the_producer_is_not_told(
    db: asyncpg.Connection,
) -> None:
    await setup_draft(db, "pkg", "pkg-v1")
    intent = make_push(NS, "pkg", "pkg-v1", sample_resources(a__yaml="1"))
    (applied,) = await apply(db, intent)

    assert not await dead_letter(db, to_received(intent))

    assert (await Gateway(db).fetch_outcomes([intent.intent_id]))[intent.intent_id] == applied
    assert len(await list_dead_letters(db)) == 1


async def test_an_unreadable_delivery_is_dead_lettered_under_its_derived_id(
    db: asyncpg.Connection,
) -> None:
    received = Received(body=b"\xff\xfe not json", message_id="not-a-uuid")

    assert await dead_letter(db, received)

    (letter,) = await list_dead_letters(db)
    assert letter.intent_id is None
    assert letter.kind is None
    assert letter.properties["timestamp"] == "b'\\x00\\x01'"
    (entry,) = await Gateway(db).fetch_log_in_order()
    assert entry.intent_id == letter.log_id
    assert entry.status == "dead_lettered"


async def test_a_dead_letter_whose_headers_hold_a_nul_is_stored(db: asyncpg.Connection) -> None:
    """jsonb refuses \\u0000; storing such a dead letter failed and stopped the whole writer."""
    received = to_received(make_push(NS, "pkg", "pkg-v1", sample_resources()))
    received = dataclasses.replace(
        received,
        headers={**received.headers, "x-note": "a\x00b", "x-list": ["\x00"]},
    )
    assert await dead_letter(db, received)
    (letter,) = await list_dead_letters(db)
    assert letter.headers["x-note"] == "a\\x00b"
    assert letter.headers["x-list"] == ["\\x00"]
