"""The dead-letter queue, broker side: record what the broker gave up on; list and replay it.

The broker dead-letters a delivery that was returned `x-delivery-limit` times (a poison intent
that keeps crashing its partition). The watcher, one per deployment (single active consumer),
stores it with its reason, tells a waiting producer `dead_lettered`, and acks it only after the
database has it. `porch-writer dlq replay` publishes it again with the replay header, which lets
the writer apply an intent its log records as dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from typing import Any

import aio_pika
import aiormq
import asyncpg
import structlog
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

from messages.envelope import HEADER_PACKAGE_KEY, HEADER_REPLAY
from messages.outcomes import FINAL_OUTCOME_ADAPTER
from messages.settings import Settings
from producers.errors import PublishError
from producers.publisher import broker_user
from producers.topology import Topology, declare
from writer.deadletters import dead_letter_row, list_dead_letters, mark_replayed
from writer.gateway import Gateway
from writer.intake import received_from
from writer.replies import send_outcome
from writer.rows import DeadLetterRow
from writer.transient import is_transient

log = structlog.get_logger(__name__)

_BROKER_HEADERS = (
    "x-death",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-first-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
    "x-last-death-exchange",
    "x-delivery-count",
    HEADER_REPLAY,
)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _properties(message: AbstractIncomingMessage) -> dict[str, object]:
    return {
        "content_type": message.content_type,
        "message_id": message.message_id,
        "correlation_id": message.correlation_id,
        "type": message.type,
        "user_id": message.user_id,
        "reply_to": message.reply_to,
        "app_id": message.app_id,
    }


def _death(headers: Mapping[str, Any]) -> tuple[str, str | None, int | None]:
    """The reason, source queue and delivery count of a dead-lettered message."""
    deaths = headers.get("x-death") or [{}]
    first = deaths[0] if isinstance(deaths, list) and deaths else {}
    reason = _text(headers.get("x-first-death-reason")) or _text(first.get("reason")) or "unknown"
    queue = _text(headers.get("x-first-death-queue")) or _text(first.get("queue"))
    count = headers.get("x-delivery-count")
    return reason, queue, int(count) if isinstance(count, int) else None


class DeadLetterWatcher:
    def __init__(
        self,
        connection: AbstractConnection,
        pool: asyncpg.Pool,
        topology: Topology,
        settings: Settings,
        stop: asyncio.Event,
    ) -> None:
        self._connection = connection
        self._pool = pool
        self._topology = topology
        self._settings = settings
        self._stop = stop
        self._queues = {topology.queue(index): index for index in range(topology.partitions)}
        self._channel: AbstractChannel | None = None
        self._pending = 0
        """Dead letters delivered to this watcher and not yet acknowledged."""

    async def drained(self) -> bool:
        """Nothing in hand and nothing waiting in the dead-letter queue (for drain mode)."""
        if self._pending or self._channel is None or self._channel.is_closed:
            return self._pending == 0
        queue = await self._channel.declare_queue(self._topology.dead_letter_queue, passive=True)
        return queue.declaration_result.message_count == 0

    async def run(self) -> None:
        channel = await self._connection.channel()
        self._channel = channel
        try:
            await channel.set_qos(prefetch_count=16)
            queue = await channel.get_queue(self._topology.dead_letter_queue, ensure=False)
            inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()

            async def deliver(message: AbstractIncomingMessage) -> None:
                self._pending += 1
                inbox.put_nowait(message)

            await queue.consume(deliver, no_ack=False)
            stop = asyncio.ensure_future(self._stop.wait())
            try:
                while not self._stop.is_set():
                    getter = asyncio.ensure_future(inbox.get())
                    done, _ = await asyncio.wait(
                        {getter, stop}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if getter not in done:
                        getter.cancel()
                        return
                    await self._handle(channel, getter.result())
                    self._pending -= 1
            finally:
                stop.cancel()
        finally:
            if not channel.is_closed:
                with contextlib.suppress(
                    aiormq.exceptions.AMQPError, ConnectionError, RuntimeError
                ):
                    await channel.close()

    async def _handle(self, channel: AbstractChannel, message: AbstractIncomingMessage) -> None:
        received = received_from(message)
        reason, queue, count = _death(message.headers)
        letter = dead_letter_row(
            received,
            queue=queue,
            partition=self._queues.get(queue or ""),
            reason=reason,
            death_count=count,
            properties=_properties(message),
        )
        notify = await self._record(letter)
        await message.ack()
        log.warning(
            "intent.dead_lettered",
            intent_id=str(letter.log_id),
            kind=letter.kind,
            queue=queue,
            reason=reason,
            deliveries=count,
        )
        if notify and message.reply_to:
            outcome = FINAL_OUTCOME_ADAPTER.validate_json(letter.outcome_json)
            correlation_id = message.correlation_id or message.message_id or ""
            await send_outcome(channel, message.reply_to, correlation_id, outcome)

    async def _record(self, letter: Any) -> bool:
        backoff = self._settings.retry_initial_s
        while True:
            try:
                async with self._pool.acquire(timeout=30) as connection:
                    _, logged = await Gateway(connection).record_dead_letter(letter)
                    return logged
            except Exception as error:
                if not is_transient(error) or self._stop.is_set():
                    raise
                log.warning("dead_letters.halted", error=repr(error), retry_in_s=backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._settings.retry_max_s)


async def print_list(settings: Settings, *, as_json: bool, include_replayed: bool) -> int:
    connection = await asyncpg.connect(settings.database_url)
    try:
        rows = await list_dead_letters(connection, include_replayed=include_replayed)
    finally:
        await connection.close()
    if as_json:
        for row in rows:
            print(json.dumps(_summary(row), default=str))
        return 0
    if not rows:
        print("no dead letters")
        return 0
    print(f"{'ID':>5}  {'INTENT':36}  {'KIND':22}  {'PART':>4}  {'REASON':16}  {'N':>3}  WHEN")
    for row in rows:
        summary = _summary(row)
        print(
            f"{row.id:>5}  {summary['intent_id'] or '-':36}  {row.kind or '-':22}  "
            f"{row.partition if row.partition is not None else '-':>4}  {row.reason:16}  "
            f"{row.death_count if row.death_count is not None else '-':>3}  "
            f"{row.dead_lettered_at:%Y-%m-%d %H:%M:%S}"
            + (f"  replayed {row.replayed_at:%H:%M:%S}" if row.replayed_at else "")
        )
    return 0


def _summary(row: DeadLetterRow) -> dict[str, object]:
    return {
        "id": row.id,
        "intent_id": str(row.intent_id) if row.intent_id else None,
        "log_id": str(row.log_id),
        "kind": row.kind,
        "partition": row.partition,
        "queue": row.queue,
        "reason": row.reason,
        "deliveries": row.death_count,
        "dead_lettered_at": row.dead_lettered_at.isoformat(),
        "replayed_at": row.replayed_at.isoformat() if row.replayed_at else None,
    }


def _select(rows: list[DeadLetterRow], wanted: list[str]) -> list[DeadLetterRow]:
    by_key: dict[str, DeadLetterRow] = {}
    for row in rows:
        for key in (str(row.id), str(row.log_id), str(row.intent_id)):
            by_key.setdefault(key, row)
    unknown = [key for key in wanted if key not in by_key]
    if unknown:
        raise LookupError(
            f"no dead letter with id {', '.join(unknown)} (see porch-writer dlq list)"
        )
    return [by_key[key] for key in wanted]


async def replay(settings: Settings, ids: list[str]) -> int:
    """Publish the chosen dead letters again, confirmed, with the replay header."""
    connection = await asyncpg.connect(settings.database_url)
    try:
        try:
            rows = _select(await list_dead_letters(connection, include_replayed=True), ids)
        except LookupError as error:
            print(f"porch-writer: {error}")
            return 1
        topology = Topology.from_settings(settings)
        broker = await aio_pika.connect(settings.amqp_url, timeout=settings.publish_timeout_s)
        async with broker:
            exchange = await declare(broker, topology)
            channel = await broker.channel(publisher_confirms=True, on_return_raises=True)
            exchange = await channel.get_exchange(topology.exchange)
            for row in rows:
                partition = _partition(row, topology)
                await _republish(exchange, row, topology.routing_key(partition), settings)
                await mark_replayed(connection, [row.id])
                print(
                    f"replayed dead letter {row.id} (intent {row.intent_id or row.log_id}) "
                    f"to partition {partition}"
                )
    finally:
        await connection.close()
    return 0


def _partition(row: DeadLetterRow, topology: Topology) -> int:
    key = row.headers.get(HEADER_PACKAGE_KEY)
    if isinstance(key, str):
        return topology.partition_of(key)
    if row.partition is not None:
        return row.partition
    raise PublishError(row.log_id, "dead letter has neither a package key nor a partition")


async def _republish(
    exchange: aio_pika.abc.AbstractExchange,
    row: DeadLetterRow,
    routing_key: str,
    settings: Settings,
) -> None:
    properties = row.properties
    headers: dict[str, Any] = {k: v for k, v in row.headers.items() if k not in _BROKER_HEADERS}
    headers[HEADER_REPLAY] = row.id
    message = aio_pika.Message(
        row.body,
        content_type=_text(properties.get("content_type")),
        message_id=_text(properties.get("message_id")),
        correlation_id=_text(properties.get("correlation_id")),
        type=_text(properties.get("type")),
        reply_to=_text(properties.get("reply_to")),
        user_id=broker_user(settings.amqp_url),
        headers=headers,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )
    await exchange.publish(message, routing_key, mandatory=True, timeout=settings.publish_timeout_s)
