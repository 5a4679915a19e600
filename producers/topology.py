"""The broker topology, declared idempotently by producers and writer alike.

Exchange `<prefix>.intents` (direct) routes each intent to `<prefix>.intents.pNN`, a quorum
queue with single active consumer and a delivery limit that dead-letters, at least once, to
`<prefix>.intents.dlx` and on to `<prefix>.intents.dead`. A one-message manifest queue records
the partition count and queue arguments the topology was first declared with, so a process
configured differently fails at start instead of routing to a different set of queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aio_pika
import aiormq
import structlog
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange

from messages.partition import partition_name, partition_of
from messages.settings import Settings
from producers.errors import TopologyError, TopologyMismatch

log = structlog.get_logger(__name__)

_MANIFEST_ATTEMPTS = 50


@dataclass(frozen=True)
class Topology:
    prefix: str
    partitions: int
    delivery_limit: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Topology:
        return cls(settings.topology_prefix, settings.partitions, settings.delivery_limit)

    @property
    def exchange(self) -> str:
        return f"{self.prefix}.intents"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.prefix}.intents.dlx"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.prefix}.intents.dead"

    @property
    def manifest_queue(self) -> str:
        return f"{self.prefix}.intents.topology"

    def queue(self, partition: int) -> str:
        return f"{self.prefix}.intents.{partition_name(partition)}"

    def partition_of(self, key: str) -> int:
        return partition_of(key, self.partitions)

    def routing_key(self, partition: int) -> str:
        return partition_name(partition)

    def queue_arguments(self) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "x-queue-type": "quorum",
            "x-single-active-consumer": True,
            "x-dead-letter-exchange": self.dead_letter_exchange,
            # At-least-once dead-lettering needs reject-publish overflow (RabbitMQ 3.10+).
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
        if self.delivery_limit > 0:
            arguments["x-delivery-limit"] = self.delivery_limit
        return arguments

    def manifest(self) -> dict[str, Any]:
        return {"partitions": self.partitions, "queue_arguments": self.queue_arguments()}

    def all_queue_names(self) -> list[str]:
        queues = [self.queue(index) for index in range(self.partitions)]
        return [*queues, self.dead_letter_queue, self.manifest_queue]

    def all_exchange_names(self) -> list[str]:
        return [self.exchange, self.dead_letter_exchange]


def broker_version(connection: AbstractConnection) -> str:
    transport = connection.transport
    if transport is None:
        return "unknown"
    version = transport.connection.server_properties.get("version", b"unknown")
    return version.decode() if isinstance(version, bytes) else str(version)


def _version_tuple(version: str) -> tuple[int, ...]:
    match = re.match(r"\d+(\.\d+)*", version)
    return tuple(int(part) for part in match.group(0).split(".")) if match else ()


def broker_warnings(
    version: str, *, queue_type: str = "quorum", delivery_limit: int = 0
) -> list[str]:
    """Known misbehaviours of this broker version with these queue settings."""
    release = _version_tuple(version)
    if not release:
        return [f"cannot read the RabbitMQ version {version!r}; known issues not checked"]
    warnings = []
    if queue_type == "classic" and release < (3, 10, 13):
        warnings.append(
            f"RabbitMQ {version}: classic-queue single active consumer can crash the queue on "
            "failover before 3.10.13; use quorum queues"
        )
    if queue_type == "quorum" and (3, 10) <= release < (3, 14) and delivery_limit <= 0:
        warnings.append(
            f"RabbitMQ {version}: a quorum queue without x-delivery-limit requeues returned "
            "deliveries at the tail, which breaks per-package order; set PORCH_DELIVERY_LIMIT"
        )
    return warnings


def check_broker(version: str, topology: Topology) -> None:
    release = _version_tuple(version)
    if release and release < (3, 10):
        raise TopologyError(
            f"RabbitMQ {version} is too old: at-least-once dead-lettering needs 3.10 or newer"
        )
    log.info("broker.connected", version=version)
    for warning in broker_warnings(version, delivery_limit=topology.delivery_limit):
        log.warning("broker.known_issue", version=version, detail=warning)


async def declare(connection: AbstractConnection, topology: Topology) -> AbstractExchange:
    """Declare everything, or raise `TopologyMismatch` if the broker holds something else."""
    check_broker(broker_version(connection), topology)
    await _agree_on_manifest(connection, topology)
    channel = await connection.channel()
    try:
        return await _declare_on(channel, topology)
    except aiormq.exceptions.ChannelPreconditionFailed as error:
        raise TopologyMismatch(
            f"the broker refused the declaration of prefix {topology.prefix!r}: {error}. "
            "A queue or exchange exists with other arguments; delete it or fix the settings."
        ) from None
    finally:
        if not channel.is_closed:
            await channel.close()


async def _declare_on(channel: AbstractChannel, topology: Topology) -> AbstractExchange:
    exchange = await channel.declare_exchange(
        topology.exchange, aio_pika.ExchangeType.DIRECT, durable=True
    )
    dead_letters = await channel.declare_exchange(
        topology.dead_letter_exchange, aio_pika.ExchangeType.FANOUT, durable=True
    )
    dead_queue = await channel.declare_queue(
        topology.dead_letter_queue,
        durable=True,
        arguments={"x-queue-type": "quorum", "x-single-active-consumer": True},
    )
    await dead_queue.bind(dead_letters, routing_key="")
    arguments = topology.queue_arguments()
    for index in range(topology.partitions):
        queue = await channel.declare_queue(
            topology.queue(index), durable=True, arguments=arguments
        )
        await queue.bind(exchange, routing_key=topology.routing_key(index))
    return exchange


async def _agree_on_manifest(connection: AbstractConnection, topology: Topology) -> None:
    """Read the manifest, or write ours if there is none, and compare them.

    An exclusive queue serves as a broker-side mutex (another connection declaring it gets
    RESOURCE_LOCKED, and it vanishes with its connection), so concurrent first declarations
    cannot both write a manifest.
    """
    wanted = topology.manifest()
    async with _manifest_mutex(connection, topology):
        channel = await connection.channel(publisher_confirms=True)
        try:
            queue = await channel.declare_queue(
                topology.manifest_queue, durable=True, arguments={"x-queue-type": "classic"}
            )
            message = await queue.get(no_ack=False, fail=False, timeout=10)
            if message is not None:
                existing = json.loads(message.body)
                await message.nack(requeue=True)
                _compare(existing, wanted, topology.prefix)
                return
            await channel.default_exchange.publish(
                aio_pika.Message(
                    json.dumps(wanted, sort_keys=True).encode(),
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=topology.manifest_queue,
                timeout=10,
            )
            log.info("topology.manifest_written", prefix=topology.prefix, **wanted)
        finally:
            if not channel.is_closed:
                await channel.close()


# The exclusive queue excludes other connections only; this excludes tasks sharing one.
_connection_mutexes: weakref.WeakKeyDictionary[AbstractConnection, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


@contextlib.asynccontextmanager
async def _manifest_mutex(
    connection: AbstractConnection, topology: Topology
) -> AsyncIterator[None]:
    name = f"{topology.manifest_queue}.lock"
    async with _connection_mutexes.setdefault(connection, asyncio.Lock()):
        for _ in range(_MANIFEST_ATTEMPTS):
            channel = await connection.channel()
            try:
                await channel.declare_queue(name, exclusive=True, auto_delete=True)
            except aiormq.exceptions.ChannelLockedResource:
                await asyncio.sleep(0.1)
                continue
            try:
                yield
            finally:
                if not channel.is_closed:
                    await channel.queue_delete(name)
                    await channel.close()
            return
        raise TopologyError(f"{name} stayed locked by another process; is one stuck declaring?")


def _compare(existing: dict[str, Any], wanted: dict[str, Any], prefix: str) -> None:
    differences = [
        f"{key}: broker has {existing.get(key)!r}, this process wants {wanted[key]!r}"
        for key in sorted(wanted)
        if existing.get(key) != wanted[key]
    ]
    if differences:
        raise TopologyMismatch(
            f"topology {prefix!r} was declared differently: "
            + "; ".join(differences)
            + ". Use the same PORCH_PARTITIONS and PORCH_DELIVERY_LIMIT everywhere, or a new "
            "PORCH_TOPOLOGY_PREFIX (moving partitions needs the queues drained first)."
        )
