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
from tests.faults.harness.proxy import ChaosProxy
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


async def test_each_broker_outage_is_retried_from_the_shortest_backoff(settings: Settings) -> None:
    """A writer that reconnected and served is not penalised for earlier outages: after its
    eighth lost connection it is back as fast as after its first."""
    patient = settings.model_copy(update={"retry_initial_s": 0.05, "retry_max_s": 30.0})
    async with ChaosProxy.running(settings.amqp_url) as proxy:
        through_proxy = patient.model_copy(update={"amqp_url": proxy.url(settings.amqp_url)})
        async with running_writer(through_proxy) as writer, Publisher(patient) as publisher:
            await consuming(writer)
            await publisher.request(make_repository(NS, "repo"), timeout=30)
            loop = asyncio.get_running_loop()
            took = []
            for _ in range(8):
                assert await proxy.drop_all() >= 1
                started = loop.time()
                outcome = await publisher.request(make_repository(NS, "repo"), timeout=60)
                took.append(loop.time() - started)
                assert outcome.status == "rejected"  # already_exists: answered, so served
    # Without a reset the pause doubles each time: 0.05 s after the first loss, 6.4 s after the
    # eighth.
    assert took[-1] < 2.0, f"seconds to answer after each lost connection: {took}"
