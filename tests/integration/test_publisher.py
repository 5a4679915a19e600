"""The publisher against the real broker: routing, properties, confirms, errors, outcomes."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest

from messages import Applied, decode_intent, partition_of
from messages.envelope import Received
from messages.limits import Limits
from messages.settings import Settings
from producers import OutcomeTimeout, Publisher, PublishRefused, PublishTimeout, Unroutable
from producers.topology import Topology
from tests.samples import one_of_each_kind


def push(package: str = "repo.pkg") -> object:
    intent = one_of_each_kind()[4]
    return intent.model_copy(update={"package": package})


async def get_one(
    channel: aio_pika.abc.AbstractChannel, queue: str
) -> aio_pika.abc.AbstractIncomingMessage:
    """The next message of a queue (by consuming: quorum queues with SAC refuse basic.get)."""
    declared = await channel.get_queue(queue, ensure=False)
    async with asyncio.timeout(10), declared.iterator(no_ack=True) as messages:
        async for message in messages:
            return message
    raise AssertionError(f"{queue} was closed before a message arrived")


async def test_a_published_intent_lands_on_its_partition_with_every_property(
    broker_settings: Settings, amqp: aio_pika.abc.AbstractConnection
) -> None:
    intent = one_of_each_kind()[4]
    partition = partition_of(intent.partition_key, broker_settings.partitions)
    async with Publisher(broker_settings, name="test-props") as publisher:
        await publisher.publish(intent, reply=True)
        reply_queue = publisher.reply_queue
    channel = await amqp.channel()
    message = await get_one(channel, Topology.from_settings(broker_settings).queue(partition))
    assert message.content_type == "application/json"
    assert message.message_id == str(intent.intent_id)
    assert message.correlation_id == str(intent.intent_id)
    assert message.type == "resources_update"
    assert message.user_id == "guest"
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.reply_to == reply_queue
    assert message.headers == {"x-schema-version": 1, "x-package-key": "ns/repo.pkg"}
    received = Received(
        body=message.body,
        content_type=message.content_type,
        message_id=message.message_id,
        type=message.type,
        user_id=message.user_id,
        headers=message.headers,
    )
    assert decode_intent(received, Limits()) == intent


async def test_other_partitions_stay_empty(
    broker_settings: Settings, amqp: aio_pika.abc.AbstractConnection
) -> None:
    intent = one_of_each_kind()[4]
    mine = partition_of(intent.partition_key, broker_settings.partitions)
    async with Publisher(broker_settings) as publisher:
        await publisher.publish(intent)
    channel = await amqp.channel()
    topology = Topology.from_settings(broker_settings)
    await get_one(channel, topology.queue(mine))
    for other in set(range(topology.partitions)) - {mine}:
        queue = await channel.declare_queue(topology.queue(other), passive=True)
        assert queue.declaration_result.message_count == 0


async def test_an_unroutable_publish_raises(
    broker_settings: Settings, amqp: aio_pika.abc.AbstractConnection
) -> None:
    intent = one_of_each_kind()[4]
    topology = Topology.from_settings(broker_settings)
    partition = topology.partition_of(intent.partition_key)
    async with Publisher(broker_settings) as publisher:
        channel = await amqp.channel()
        queue = await channel.get_queue(topology.queue(partition), ensure=False)
        await queue.unbind(topology.exchange, routing_key=topology.routing_key(partition))
        with pytest.raises(Unroutable, match="NO_ROUTE"):
            await publisher.publish(intent)


async def test_a_publish_with_a_user_id_other_than_the_connections_fails(
    broker_settings: Settings,
) -> None:
    async with Publisher(broker_settings, user_id="porch-server") as publisher:
        with pytest.raises(PublishRefused, match="user_id"):
            await publisher.publish(one_of_each_kind()[4])


async def test_a_thousand_concurrent_publishes_are_all_confirmed(
    broker_settings: Settings, amqp: aio_pika.abc.AbstractConnection
) -> None:
    intents = [push(f"repo.pkg-{index}") for index in range(1000)]
    async with Publisher(broker_settings) as publisher:
        await asyncio.gather(*(publisher.publish(intent) for intent in intents))  # type: ignore[arg-type]
    channel = await amqp.channel()
    topology = Topology.from_settings(broker_settings)
    total = 0
    for partition in range(topology.partitions):
        queue = await channel.declare_queue(topology.queue(partition), passive=True)
        total += queue.declaration_result.message_count or 0
    assert total == 1000


async def test_a_publish_past_its_timeout_raises_publish_timeout(broker_settings: Settings) -> None:
    hasty = broker_settings.model_copy(update={"publish_timeout_s": 1e-6})
    async with Publisher(broker_settings) as publisher:
        publisher._settings = hasty  # the connection is up; only the confirm wait is bounded
        with pytest.raises(PublishTimeout, match="no confirm within"):
            await publisher.publish(one_of_each_kind()[4])


async def test_waiting_for_an_outcome_times_out_cleanly(broker_settings: Settings) -> None:
    async with Publisher(broker_settings) as publisher:
        with pytest.raises(OutcomeTimeout, match=r"no outcome within 0\.3s"):
            await publisher.request(one_of_each_kind()[4], timeout=0.3)
        assert publisher.waiting == 0


async def test_an_outcome_reaches_its_waiter_and_strays_are_dropped(
    broker_settings: Settings, amqp: aio_pika.abc.AbstractConnection
) -> None:
    intent = one_of_each_kind()[4]
    topology = Topology.from_settings(broker_settings)
    channel = await amqp.channel()
    async with Publisher(broker_settings) as publisher:
        waiter = asyncio.create_task(publisher.request(intent, timeout=20))
        delivered = await get_one(
            channel, topology.queue(topology.partition_of(intent.partition_key))
        )
        stray = Applied(intent_id=one_of_each_kind()[4].intent_id, version=1)
        answer = Applied(intent_id=intent.intent_id, version=42)
        for outcome in (stray, answer, answer):
            await channel.default_exchange.publish(
                aio_pika.Message(
                    outcome.model_dump_json().encode(),
                    correlation_id=str(outcome.intent_id),
                    content_type="application/json",
                ),
                routing_key=delivered.reply_to or "",
            )
        assert await waiter == answer
        assert publisher.waiting == 0
