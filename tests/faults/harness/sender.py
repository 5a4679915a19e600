"""A raw publisher on one confirmed channel: deliveries exactly as given, in the order given
(one channel, one at a time, so a partition's queue holds them in this order), with the
writer's replies collected by correlation id."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage

from messages.envelope import encode_intent
from messages.intents import Intent
from messages.outcomes import OUTCOME_ADAPTER, Outcome
from messages.settings import Settings
from producers import Topology
from producers.publisher import broker_user
from tests.waiting import wait_until


class RawSender:
    def __init__(
        self, channel: AbstractChannel, exchange: AbstractExchange, topology: Topology, replies: str
    ) -> None:
        self.channel = channel
        self.exchange = exchange
        self.topology = topology
        self.replies = replies
        self.user = "guest"
        self.outcomes: dict[str, Outcome] = {}

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, settings: Settings) -> AsyncIterator[RawSender]:
        topology = Topology.from_settings(settings)
        connection = await aio_pika.connect(settings.amqp_url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(topology.exchange)
            queue = await channel.declare_queue(exclusive=True)
            sender = cls(channel, exchange, topology, queue.name)
            sender.user = broker_user(settings.amqp_url)
            await queue.consume(sender._on_reply, no_ack=True)
            yield sender

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        self.outcomes[message.correlation_id or ""] = OUTCOME_ADAPTER.validate_json(message.body)

    async def publish(
        self,
        body: bytes,
        properties: dict[str, Any],
        *,
        partition: int,
        correlation_id: str,
        reply: bool = True,
    ) -> None:
        message = aio_pika.Message(
            body,
            content_type=properties.get("content_type"),
            message_id=properties.get("message_id"),
            type=properties.get("type"),
            user_id=properties.get("user_id"),
            headers=properties.get("headers") or {},
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            reply_to=self.replies if reply else None,
            correlation_id=correlation_id,
        )
        await self.exchange.publish(
            message, routing_key=self.topology.routing_key(partition), mandatory=True, timeout=10
        )

    async def publish_intent(self, intent: Intent, correlation_id: str) -> None:
        """The intent as a producer would send it, to its own partition."""
        envelope = encode_intent(intent)
        properties = {
            "content_type": envelope.content_type,
            "message_id": envelope.message_id,
            "type": envelope.type,
            "user_id": self.user,
            "headers": dict(envelope.headers),
        }
        partition = self.topology.partition_of(envelope.partition_key)
        await self.publish(
            envelope.body, properties, partition=partition, correlation_id=correlation_id
        )

    async def outcome(self, correlation_id: str, timeout: float = 30.0) -> Outcome:
        async def arrived() -> Outcome | None:
            return self.outcomes.get(correlation_id)

        found = await wait_until(arrived, timeout=timeout, what=f"the outcome of {correlation_id}")
        assert found is not None
        return found
