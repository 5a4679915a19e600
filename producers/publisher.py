"""Publishing intents with publisher confirms, and waiting for the writer's outcomes.

Every publish is persistent and mandatory and returns only once the broker confirmed it; it
raises a `PublishError` otherwise (returned, nacked, refused, connection lost, or timed out).
Every await is bounded, because aio-pika's robust connection can wait forever while it
reconnects.
"""

from __future__ import annotations

import asyncio
import types
import uuid
from typing import Self
from uuid import UUID

import aio_pika
import aiormq
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustConnection
from yarl import URL

from messages.envelope import encode_intent
from messages.intents import Intent
from messages.limits import check_body_size, check_resources
from messages.outcomes import OUTCOME_ADAPTER, Outcome
from messages.settings import Settings
from producers.errors import (
    Nacked,
    OutcomeTimeout,
    ProducerError,
    PublishError,
    PublishRefused,
    PublishTimeout,
    Unroutable,
)
from producers.topology import Topology, declare

log = structlog.get_logger(__name__)


def broker_user(amqp_url: str) -> str:
    """The user the broker authenticates; it validates `user_id` against it."""
    return URL(amqp_url).user or "guest"


class Publisher:
    """One producer's connection: confirmed publishes and a reply queue for outcomes."""

    def __init__(
        self, settings: Settings, *, name: str = "porch-producer", user_id: str | None = None
    ) -> None:
        """`user_id` defaults to the URL's user, the only one the broker accepts."""
        self._settings = settings
        self._name = name
        self._topology = Topology.from_settings(settings)
        self._user = user_id if user_id is not None else broker_user(settings.amqp_url)
        self._in_flight = asyncio.Semaphore(settings.max_in_flight)
        self._waiting: dict[UUID, asyncio.Future[Outcome]] = {}
        self._reply_queue = f"{settings.topology_prefix}.replies.{name}.{uuid.uuid4().hex[:8]}"
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None

    @property
    def topology(self) -> Topology:
        return self._topology

    @property
    def user(self) -> str:
        return self._user

    @property
    def reply_queue(self) -> str:
        return self._reply_queue

    @property
    def waiting(self) -> int:
        """How many outcomes are awaited now."""
        return len(self._waiting)

    async def start(self) -> None:
        timeout = self._settings.publish_timeout_s
        connection = await aio_pika.connect_robust(
            self._settings.amqp_url,
            timeout=timeout,
            client_properties={"connection_name": self._name},
        )
        try:
            async with asyncio.timeout(timeout * 3):
                await declare(connection, self._topology)
                channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
                assert isinstance(channel, AbstractRobustChannel)
                self._exchange = await channel.declare_exchange(
                    self._topology.exchange, aio_pika.ExchangeType.DIRECT, durable=True
                )
                replies = await channel.declare_queue(
                    self._reply_queue, exclusive=True, auto_delete=True
                )
                await replies.consume(self._on_outcome, no_ack=True)
        except BaseException:
            await connection.close()
            raise
        self._connection, self._channel = connection, channel

    async def close(self) -> None:
        for future in self._waiting.values():
            future.cancel()
        if self._connection is not None:
            await self._connection.close()
        self._connection = self._channel = self._exchange = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        await self.close()

    def _message(self, intent: Intent, *, reply: bool) -> tuple[aio_pika.Message, str]:
        envelope = encode_intent(intent)
        check_body_size(len(envelope.body), self._settings.limits)
        resources = getattr(intent, "resources", None)
        if resources is not None:
            check_resources(resources, self._settings.limits)
        message = aio_pika.Message(
            envelope.body,
            content_type=envelope.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=envelope.message_id,
            correlation_id=envelope.message_id,
            type=envelope.type,
            user_id=self._user,
            headers=dict(envelope.headers),
            timestamp=intent.issued_at,
            app_id=self._name,
            reply_to=self._reply_queue if reply else None,
        )
        partition = self._topology.partition_of(envelope.partition_key)
        return message, self._topology.routing_key(partition)

    async def publish(self, intent: Intent, *, reply: bool = False) -> None:
        """Publish and wait for the broker's confirm, or raise a `PublishError`.

        Raises `messages.IntentRejected` before publishing when the intent breaks a limit.
        """
        if self._channel is None or self._exchange is None:
            raise ProducerError("the publisher is not started: call start() or use `async with`")
        message, routing_key = self._message(intent, reply=reply)
        intent_id = intent.intent_id
        timeout = self._settings.publish_timeout_s
        async with self._in_flight:
            try:
                async with asyncio.timeout(timeout):
                    await self._channel.ready()
                    await self._exchange.publish(message, routing_key, mandatory=True)
            except TimeoutError:
                raise PublishTimeout(intent_id, f"no confirm within {timeout}s") from None
            except aiormq.exceptions.PublishError as error:
                raise Unroutable(
                    intent_id, f"returned by the broker ({error}); routing key {routing_key!r}"
                ) from None
            except aiormq.exceptions.DeliveryError as error:
                raise Nacked(intent_id, f"not accepted by the broker ({error})") from None
            except aiormq.exceptions.ChannelClosed as error:
                raise PublishRefused(intent_id, f"the broker closed the channel: {error}") from None
            except (aiormq.exceptions.AMQPError, ConnectionError, RuntimeError) as error:
                raise PublishError(intent_id, f"connection or channel lost: {error!r}") from None

    async def request(self, intent: Intent, *, timeout: float | None = None) -> Outcome:
        """Publish and wait for the writer's outcome (`OutcomeTimeout` if it does not come)."""
        wait = self._settings.outcome_timeout_s if timeout is None else timeout
        intent_id = intent.intent_id
        future = self._waiting.get(intent_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._waiting[intent_id] = future
        try:
            await self.publish(intent, reply=True)
            async with asyncio.timeout(wait):
                return await asyncio.shield(future)
        except TimeoutError:
            raise OutcomeTimeout(intent_id, wait) from None
        finally:
            if self._waiting.get(intent_id) is future:
                del self._waiting[intent_id]

    async def _on_outcome(self, message: AbstractIncomingMessage) -> None:
        try:
            intent_id = UUID(message.correlation_id or "")
            outcome = OUTCOME_ADAPTER.validate_json(message.body)
        except ValueError as error:
            log.warning(
                "outcome.unreadable", correlation_id=message.correlation_id, error=str(error)
            )
            return
        future = self._waiting.get(intent_id)
        if outcome.intent_id != intent_id:
            log.warning(
                "outcome.mismatched",
                correlation_id=str(intent_id),
                intent_id=str(outcome.intent_id),
            )
        elif future is None or future.done():
            # Late (its waiter timed out) or never asked for here: dropped, never mixed up.
            log.info("outcome.unmatched", intent_id=str(intent_id), status=outcome.status)
        else:
            future.set_result(outcome)
