"""Declaring the topology: idempotent, and a clear error when the broker holds another one."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest

from messages.settings import Settings
from producers import Topology, TopologyMismatch, declare


async def test_declaring_twice_is_a_no_op(
    broker_settings: Settings, amqp: aio_pika.abc.AbstractConnection
) -> None:
    topology = Topology.from_settings(broker_settings)
    await declare(amqp, topology)
    channel = await amqp.channel()
    queue = await channel.declare_queue(topology.queue(0), passive=True)
    await channel.default_exchange.publish(aio_pika.Message(b"keep me"), routing_key=queue.name)
    await declare(amqp, topology)
    again = await channel.declare_queue(topology.queue(0), passive=True)
    assert again.declaration_result.message_count == 1
    for name in topology.all_queue_names():
        await channel.declare_queue(name, passive=True)
    for name in topology.all_exchange_names():
        await channel.get_exchange(name, ensure=True)


async def test_a_different_partition_count_is_an_error(
    broker_settings: Settings, amqp: aio_pika.abc.AbstractConnection
) -> None:
    await declare(amqp, Topology.from_settings(broker_settings))
    other = Topology(broker_settings.topology_prefix, broker_settings.partitions + 3, 20)
    with pytest.raises(TopologyMismatch, match=r"partitions: broker has 4, this process wants 7"):
        await declare(amqp, other)
    channel = await amqp.channel()
    with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):
        await channel.declare_queue(other.queue(6), passive=True)


async def test_different_queue_arguments_are_an_error(
    broker_settings: Settings, amqp: aio_pika.abc.AbstractConnection
) -> None:
    await declare(amqp, Topology.from_settings(broker_settings))
    other = Topology(broker_settings.topology_prefix, broker_settings.partitions, 5)
    with pytest.raises(TopologyMismatch, match="queue_arguments"):
        await declare(amqp, other)


async def test_a_queue_declared_by_hand_with_other_arguments_is_an_error(
    broker_settings: Settings, amqp: aio_pika.abc.AbstractConnection
) -> None:
    topology = Topology.from_settings(broker_settings)
    channel = await amqp.channel()
    await channel.declare_queue(topology.queue(1), durable=True)  # a classic queue
    with pytest.raises(TopologyMismatch, match="refused the declaration"):
        await declare(amqp, topology)


async def test_concurrent_declarations_agree(
    broker_settings: Settings, amqp: aio_pika.abc.AbstractConnection
) -> None:
    topology = Topology.from_settings(broker_settings)
    connections = [await aio_pika.connect(broker_settings.amqp_url) for _ in range(5)]
    try:
        await asyncio.gather(*(declare(connection, topology) for connection in connections))
    finally:
        for connection in connections:
            await connection.close()
    channel = await amqp.channel()
    manifest = await channel.declare_queue(topology.manifest_queue, passive=True)
    assert manifest.declaration_result.message_count == 1


async def test_concurrent_declarations_that_differ_are_caught(
    broker_settings: Settings, amqp: aio_pika.abc.AbstractConnection
) -> None:
    prefix, partitions = broker_settings.topology_prefix, broker_settings.partitions
    topologies = [Topology(prefix, partitions + (index % 2), 20) for index in range(6)]
    connections = [await aio_pika.connect(broker_settings.amqp_url) for _ in topologies]
    try:
        results = await asyncio.gather(
            *(declare(c, t) for c, t in zip(connections, topologies, strict=True)),
            return_exceptions=True,
        )
    finally:
        for connection in connections:
            await connection.close()
    failures = [result for result in results if isinstance(result, TopologyMismatch)]
    assert len(failures) == 3
    assert all(not isinstance(result, BaseException) or result in failures for result in results)
