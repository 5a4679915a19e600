"""Fixtures: real services, a fresh database and fresh broker names for every test."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator

import aio_pika
import asyncpg
import pytest

from messages.settings import Settings, load_settings
from producers.topology import Topology
from tests.services import ServiceUrls, database_url_named, provide_services
from writer.migrations import migrate

TEST_PARTITIONS = 4


@pytest.fixture(scope="session")
def services() -> Iterator[ServiceUrls]:
    stack = contextlib.ExitStack()
    try:
        urls = stack.enter_context(provide_services())
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    with stack:
        yield urls


async def _admin(services: ServiceUrls) -> asyncpg.Connection:
    return await asyncpg.connect(database_url_named(services.database_url, "postgres"))


@pytest.fixture(scope="session")
def template_database(services: ServiceUrls) -> Iterator[str]:
    """A migrated database, built once per session; each test copies it."""
    name = f"porch_tpl_{uuid.uuid4().hex[:10]}"

    async def create() -> None:
        admin = await _admin(services)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        await migrate(database_url_named(services.database_url, name))

    async def drop() -> None:
        admin = await _admin(services)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    asyncio.run(create())
    yield name
    asyncio.run(drop())


@pytest.fixture
async def database_url(services: ServiceUrls, template_database: str) -> AsyncIterator[str]:
    """A database of this test's own, with the schema in place."""
    name = f"porch_t_{uuid.uuid4().hex[:12]}"
    admin = await _admin(services)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    finally:
        await admin.close()
    yield database_url_named(services.database_url, name)
    admin = await _admin(services)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def delete_topology(amqp_url: str, prefix: str) -> None:
    """Delete every queue and exchange a topology with this prefix can have.

    Leftover quorum queues are not harmless: each holds file handles in the broker, and with
    the default limit of 1024 a few hundred of them stop it from accepting connections.
    """
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        topology = Topology(prefix=prefix, partitions=64, delivery_limit=0)
        for queue in topology.all_queue_names():
            await channel.queue_delete(queue)
        for exchange in topology.all_exchange_names():
            await channel.exchange_delete(exchange)


@pytest.fixture
async def prefix(services: ServiceUrls) -> AsyncIterator[str]:
    """Broker names of this test's own; its exchanges and queues are deleted afterwards."""
    name = f"t{uuid.uuid4().hex[:10]}"
    yield name
    await delete_topology(services.amqp_url, name)


@pytest.fixture
async def other_prefix(services: ServiceUrls, prefix: str) -> AsyncIterator[str]:
    """A second deployment's broker names, for tests of two deployments on one database."""
    name = prefix + "b"
    yield name
    await delete_topology(services.amqp_url, name)


@pytest.fixture
def settings(services: ServiceUrls, database_url: str, prefix: str) -> Settings:
    return load_settings(
        amqp_url=services.amqp_url,
        database_url=database_url,
        topology_prefix=prefix,
        partitions=TEST_PARTITIONS,
        consumer_check_s=1.0,
    )


@pytest.fixture
def broker_settings(services: ServiceUrls, prefix: str) -> Settings:
    """Settings for tests that need the broker and no database."""
    return load_settings(
        amqp_url=services.amqp_url, topology_prefix=prefix, partitions=TEST_PARTITIONS
    )


@pytest.fixture
async def amqp(services: ServiceUrls) -> AsyncIterator[aio_pika.abc.AbstractConnection]:
    """A plain connection for inspecting and publishing raw messages."""
    connection = await aio_pika.connect(services.amqp_url)
    async with connection:
        yield connection


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()
