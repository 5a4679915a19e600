"""Broker topologies a test creates beside its own prefix (a second deployment, a rogue one):
declared by their writers, bound by hand, deleted at the end."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aio_pika

from producers import Topology


async def bind_rogue(amqp_url: str, rightful: Topology, rogue: Topology) -> int:
    """Bind the rogue's queues to the rightful exchange, every routing key to one of them: the
    rogue writer then gets a copy of every intent. Returns the number of bindings."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(rightful.exchange)
        for index in range(rightful.partitions):
            queue = await channel.get_queue(rogue.queue(index % rogue.partitions), ensure=False)
            await queue.bind(exchange, routing_key=rightful.routing_key(index))
    return rightful.partitions


@contextlib.asynccontextmanager
async def deleted_afterwards(amqp_url: str, topology: Topology) -> AsyncIterator[Topology]:
    try:
        yield topology
    finally:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            for queue in topology.all_queue_names():
                await channel.queue_delete(queue)
            for exchange in topology.all_exchange_names():
                await channel.exchange_delete(exchange)
