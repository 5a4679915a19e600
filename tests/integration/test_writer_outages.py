"""Guarantee 10 for one partition: a database outage halts it in place (no crash, no
redelivery) and it resumes by itself."""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from messages import Applied
from messages.settings import Settings
from producers import Publisher
from tests.factories import NS, make_repository
from tests.pipeline import consuming, running_writer
from tests.services import database_url_named
from tests.waiting import wait_until

WRITER_NAME = "outage-writer"


async def test_a_database_refusing_connections_halts_the_partition_in_place(
    settings: Settings,
) -> None:
    database = settings.database_url.rsplit("/", 1)[-1]
    admin = await asyncpg.connect(database_url_named(settings.database_url, "postgres"))
    intent = make_repository(NS, "repo")
    try:
        with structlog.testing.capture_logs() as events:
            async with (
                running_writer(settings, name=WRITER_NAME) as writer,
                Publisher(settings) as publisher,
            ):
                await consuming(writer)
                await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = $1 AND application_name = $2",
                    database,
                    WRITER_NAME,
                )
                request = asyncio.create_task(publisher.request(intent, timeout=60))

                async def halted() -> bool:
                    return any(event["event"] == "partition.halted" for event in events)

                await wait_until(halted, what="the partition to halt")
                await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
                outcome = await request
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await admin.close()
    assert isinstance(outcome, Applied)
    crashed = [event for event in events if event["event"] == "partition.crashed"]
    assert not crashed, "the partition crashed (and had its deliveries redelivered)"
    assert all(actor.stats.restarts == 0 for actor in writer.actors.values())
