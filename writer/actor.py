"""One partition's actor: a serial consumer that applies its deliveries in order, in batches.

Acknowledgement per failure class:
- applied or answered with a domain outcome (rejected, stale, conflict, duplicate): ack after
  the COMMIT that recorded it;
- a transient database error: hold the batch and retry it with backoff, never skip, never ack;
- anything unexpected (a bug, a poison delivery): close the channel, so the broker returns the
  deliveries to the head of the queue and counts the attempt; after the delivery limit it
  dead-letters the delivery;
- cancellation: no ack; the channel's close returns the deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import aiormq
import asyncpg
import structlog
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage
from asyncpg.pool import PoolConnectionProxy

from messages.outcomes import Outcome
from messages.settings import Settings
from producers.topology import Topology
from writer.batch import BatchItem, BatchResult, apply_batch
from writer.errors import BrokerLost, ChannelLost
from writer.intake import batch_item, received_from
from writer.replies import send_outcome
from writer.roles import Authorizer
from writer.transient import is_transient

log = structlog.get_logger(__name__)


CONSUMER_START_TIMEOUT_S = 30.0


@dataclass
class ActorStats:
    restarts: int = 0
    """Times the actor left its consumer and started again (a crash, a lost channel)."""


@dataclass
class _Consumer:
    channel: AbstractChannel
    inbox: asyncio.Queue[AbstractIncomingMessage]
    stopped: asyncio.Event
    tag: str


class PartitionActor:
    def __init__(
        self,
        partition: int,
        *,
        connection: AbstractConnection,
        pool: asyncpg.Pool,
        topology: Topology,
        settings: Settings,
        authorizer: Authorizer,
        stop: asyncio.Event,
        until_empty: bool = False,
    ) -> None:
        self.partition = partition
        self.queue_name = topology.queue(partition)
        self.stats = ActorStats()
        self.consuming = asyncio.Event()
        """Set while a consumer is registered; for tests and drain checks."""
        self._connection = connection
        self._pool = pool
        self._db: PoolConnectionProxy | None = None
        self._careful = 0
        """Deliveries to take one at a time after a crash (the crashed batch's size)."""
        self._batch_size = 0
        self._settings = settings
        self._authorizer = authorizer
        self._stop = stop
        self._until_empty = until_empty
        self._log = log.bind(partition=partition)

    async def run(self) -> None:
        """Serve until stopped (or, in drain mode, until the queue is empty).

        Raises `BrokerLost` when the connection dies; channel-level failures are handled here.
        """
        try:
            await self._run()
        finally:
            await self._drop_database()

    async def _run(self) -> None:
        backoff = self._settings.retry_initial_s
        while not self._stop.is_set():
            if self._connection.is_closed:
                raise BrokerLost(f"connection closed under partition {self.partition}")
            consumer: _Consumer | None = None
            try:
                consumer = await self._start_consumer()
                await self._serve(consumer)
                backoff = self._settings.retry_initial_s
            except (ChannelLost, aiormq.exceptions.AMQPChannelError) as error:
                self._log.warning("partition.channel_lost", error=repr(error))
            except (aiormq.exceptions.AMQPConnectionError, ConnectionError) as error:
                raise BrokerLost(repr(error)) from error
            except Exception:
                # Unexpected: maybe a poison delivery. Closing the channel returns it with its
                # delivery count raised; the broker dead-letters it at the delivery limit.
                self._log.exception("partition.crashed", restart_in_s=backoff)
                self._careful = max(self._careful, self._batch_size, 1)
            finally:
                self.consuming.clear()
                if consumer is not None:
                    await self._close(consumer.channel)
            if self._stop.is_set():
                return
            if self._until_empty and consumer is not None and await self._queue_is_empty():
                return
            self.stats.restarts += 1
            await self._pause(backoff)
            backoff = min(backoff * 2, self._settings.retry_max_s)

    async def _start_consumer(self) -> _Consumer:
        channel = await self._connection.channel(publisher_confirms=False)
        try:
            async with asyncio.timeout(CONSUMER_START_TIMEOUT_S):
                return await self._consume_on(channel)
        except TimeoutError:
            # A quorum queue without a leader (RabbitMQ 3.10 can lose a queue declared just
            # before its node died) answers basic.consume never: say so, and try again later.
            await self._close(channel)
            raise ChannelLost(
                f"{self.queue_name} did not accept a consumer within {CONSUMER_START_TIMEOUT_S}s"
            ) from None
        except BaseException:
            await self._close(channel)
            raise

    async def _consume_on(self, channel: AbstractChannel) -> _Consumer:
        # Careful after a crash: one delivery at a time, so the deliveries queued behind a
        # poison one are not returned (and counted toward the delivery limit) with it.
        prefetch = 1 if self._careful else self._settings.prefetch
        await channel.set_qos(prefetch_count=prefetch)
        inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        stopped = asyncio.Event()
        channel.close_callbacks.add(lambda *_: stopped.set())
        underlay = await channel.get_underlay_channel()
        # aiormq drops a broker-side basic.cancel (queue deleted, consumer timeout) unless told.
        underlay.on_consumer_cancel_callbacks.add(lambda *_: stopped.set())
        queue = await channel.get_queue(self.queue_name, ensure=False)

        async def deliver(message: AbstractIncomingMessage) -> None:
            inbox.put_nowait(message)

        tag = await queue.consume(deliver, no_ack=False)
        self._log.info("partition.consuming", queue=self.queue_name, prefetch=prefetch)
        self.consuming.set()
        return _Consumer(channel, inbox, stopped, tag)

    async def _serve(self, consumer: _Consumer) -> None:
        while not self._stop.is_set():
            batch = await self._collect(consumer)
            if batch is None:
                return
            self._batch_size = len(batch)
            await self._handle(consumer.channel, batch)
            if self._careful:
                self._careful -= 1
                if not self._careful:
                    # Past every delivery of the crashed batch: full prefetch, new consumer.
                    self._log.info("partition.careful_mode_over")
                    return

    async def _collect(self, consumer: _Consumer) -> list[AbstractIncomingMessage] | None:
        """The next batch: what has arrived, waiting at most batch_wait_ms for more.

        None when the actor should leave its consumer: stop, drain, or a consumer gone quiet.
        """
        first = await self._first(consumer)
        if first is None:
            return None
        batch = [first]
        limit = 1 if self._careful else self._settings.batch_max
        deadline = time.monotonic() + self._settings.batch_wait_ms / 1000
        while len(batch) < limit:
            if not consumer.inbox.empty():
                batch.append(consumer.inbox.get_nowait())
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(consumer.inbox.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _first(self, consumer: _Consumer) -> AbstractIncomingMessage | None:
        if not consumer.inbox.empty():
            return consumer.inbox.get_nowait()
        idle_timeout = 0.2 if self._until_empty else self._settings.consumer_check_s
        getter = asyncio.ensure_future(consumer.inbox.get())
        stop = asyncio.ensure_future(self._stop.wait())
        stopped = asyncio.ensure_future(consumer.stopped.wait())
        try:
            done, _ = await asyncio.wait(
                {getter, stop, stopped}, timeout=idle_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in (stop, stopped):
                waiter.cancel()
        if getter in done:
            return getter.result()
        getter.cancel()
        if stopped in done or consumer.channel.is_closed:
            raise ChannelLost(f"the consumer of {self.queue_name} was cancelled or closed")
        if stop in done or self._until_empty:
            return None
        await self._check_consumer(consumer)
        return None if self._stop.is_set() else await self._first(consumer)

    async def _check_consumer(self, consumer: _Consumer) -> None:
        """Notice a consumer that stopped receiving, even when the broker said nothing.

        The broker may cancel a consumer without a basic.cancel we see (a queue deleted and
        declared again at once). Idle with an empty inbox, a queue that still has ready
        messages means we are not its active consumer; re-registering costs a standby nothing.
        """
        underlay = await consumer.channel.get_underlay_channel()
        if consumer.tag not in cast(aiormq.Channel, underlay).consumers:
            raise ChannelLost(f"the broker cancelled the consumer of {self.queue_name}")
        queue = await consumer.channel.declare_queue(self.queue_name, passive=True)
        declared = queue.declaration_result
        if declared.consumer_count == 0 or (declared.message_count or 0) > 0:
            raise ChannelLost(
                f"{self.queue_name} has {declared.message_count} ready message(s) and "
                f"{declared.consumer_count} consumer(s) while this actor idles: re-consuming"
            )

    async def _handle(self, channel: AbstractChannel, batch: list[AbstractIncomingMessage]) -> None:
        started = time.perf_counter()
        limits = self._settings.limits
        items = [batch_item(received_from(message), limits, self._authorizer) for message in batch]
        result = await self._apply(channel, items)
        outcomes = result.outcomes
        try:
            await batch[-1].ack(multiple=True)
        except (aiormq.exceptions.AMQPError, RuntimeError) as error:
            # The deliveries come again after the reconnect; the intent log absorbs them.
            raise ChannelLost(f"ack failed after commit: {error!r}") from error
        await self._reply(channel, batch, outcomes)
        self._record(items, result, started)

    async def _apply(self, channel: AbstractChannel, items: Sequence[BatchItem]) -> BatchResult:
        """Apply the batch, holding it through transient database failures."""
        backoff = self._settings.retry_initial_s
        while True:
            try:
                connection = await self._database()
                return await apply_batch(connection, self.partition, items)
            except Exception as error:
                await self._drop_database()
                if not is_transient(error):
                    raise
                self._log.warning("partition.halted", error=repr(error), retry_in_s=backoff)
            if channel.is_closed:
                raise ChannelLost("the channel closed while the database was unavailable")
            if self._stop.is_set():
                raise ChannelLost("stopping while the database is unavailable: batch returned")
            await self._pause(backoff)
            backoff = min(backoff * 2, self._settings.retry_max_s)

    async def _database(self) -> PoolConnectionProxy:
        """The actor's own connection, kept between batches.

        Returning it to the pool after every batch would cost a reset round trip each time
        (RESET ALL and friends), a large share of a small batch on a busy machine.
        """
        if self._db is None:
            self._db = await self._pool.acquire(timeout=30)
        return self._db

    async def _drop_database(self) -> None:
        """After a failure the connection may be broken or mid-transaction: the pool resets or
        discards it, and the next batch starts on another."""
        connection, self._db = self._db, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await self._pool.release(connection, timeout=5)

    async def _reply(
        self,
        channel: AbstractChannel,
        batch: list[AbstractIncomingMessage],
        outcomes: list[Outcome],
    ) -> None:
        for message, outcome in zip(batch, outcomes, strict=True):
            if message.reply_to:
                correlation_id = message.correlation_id or message.message_id or ""
                await send_outcome(channel, message.reply_to, correlation_id, outcome)

    def _record(self, items: Sequence[BatchItem], result: BatchResult, started: float) -> None:
        counts: dict[str, int] = {}
        for item, outcome in zip(items, result.outcomes, strict=True):
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
            if outcome.status != "applied":
                intent = item.intent
                self._log.info(
                    "intent.not_applied",
                    intent_id=str(item.log_id),
                    kind=intent.kind if intent else item.received.type,
                    package=intent.partition_key if intent else None,
                    outcome=outcome.status,
                    reason=getattr(outcome, "reason", None),
                    detail=getattr(outcome, "message", None),
                )
        self._log.info(
            "batch.applied",
            size=len(items),
            ms=round((time.perf_counter() - started) * 1000, 2),
            coalesced=result.coalesced,
            **counts,
        )

    async def _queue_is_empty(self) -> bool:
        """Exact in drain mode: our channel is closed, so nothing is held unacked by us."""
        channel = await self._connection.channel()
        try:
            queue = await channel.declare_queue(self.queue_name, passive=True)
            return queue.declaration_result.message_count == 0
        finally:
            await self._close(channel)

    async def _pause(self, seconds: float) -> None:
        """Back off, but wake at once on stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    @staticmethod
    async def _close(channel: AbstractChannel) -> None:
        # Closing the channel, never basic.cancel: its unacked deliveries return to the head of
        # the queue, and the standby consumer cannot start past them.
        if not channel.is_closed:
            with contextlib.suppress(aiormq.exceptions.AMQPError, ConnectionError, RuntimeError):
                await channel.close()
