"""Bodies that once crashed a partition on every redelivery (and dead-lettered the good intents
batched with them): each is now answered `rejected` and its partition goes on at once."""

from __future__ import annotations

import json
import uuid

import aio_pika
import asyncpg
import structlog

from messages import encode_intent
from messages.settings import Settings
from producers import Publisher, Topology
from tests.factories import NS, make_metadata, make_push, sample_resources
from tests.pipeline import consuming, running_writer

HOSTILE = {
    "nested": b"[" * 100_000,
    "nul-key": {"resources": {"a\x00b": "x"}},
    "surrogate-key": {"resources": {"\ud800": "x"}},
    "surrogate-text": {"meta": '"\udfff"'},
}


async def test_hostile_bodies_are_answered_and_the_partition_goes_on(
    settings: Settings, db: asyncpg.Connection
) -> None:
    topology = Topology.from_settings(settings)
    good = make_push(NS, "repo.h", "repo.h.ws", sample_resources())
    routing_key = topology.routing_key(topology.partition_of(good.partition_key))
    with structlog.testing.capture_logs() as events:
        async with running_writer(settings) as writer, Publisher(settings) as publisher:
            await consuming(writer)
            connection = await aio_pika.connect(settings.amqp_url)
            async with connection:
                channel = await connection.channel(publisher_confirms=True)
                exchange = await channel.get_exchange(topology.exchange)
                for name, change in HOSTILE.items():
                    intent = (
                        make_metadata(NS, "repo.h", "repo.h.ws", meta="{}")
                        if name == "surrogate-text"
                        else make_push(NS, "repo.h", "repo.h.ws", sample_resources())
                    )
                    envelope = encode_intent(intent)
                    if isinstance(change, bytes):
                        body = change
                    else:
                        raw = json.loads(envelope.body)
                        raw.update(change)
                        body = json.dumps(raw).encode()
                    message = aio_pika.Message(
                        body,
                        content_type="application/json",
                        message_id=str(uuid.uuid4()) if name == "nested" else envelope.message_id,
                        type=envelope.type,
                        user_id="guest",
                    )
                    await exchange.publish(message, routing_key=routing_key)
            outcome = await publisher.request(good, timeout=20)
    assert outcome.status == "rejected"  # unknown_revision: answered, so the partition went on
    rows = await db.fetch("SELECT status, reason FROM intent_log ORDER BY seq")
    assert [row["reason"] for row in rows] == [
        "invalid_json",
        "unsafe_key",
        "invalid_intent",
        "invalid_intent",
        "unknown_revision",
    ]
    assert not [event for event in events if event["event"] == "partition.crashed"]
