"""Guarantees 3, 4 and 10 under broker connection loss: a TCP proxy between every client and
RabbitMQ cuts the writer's and the producers' AMQP connections at random moments of a load.

Producers must get a confirm or a clear error for every publish, never a silent loss and never
a wait past their own timeout; what they saw confirmed is applied exactly once; acks that fail
after a reconnect bring deliveries again, and the intent log answers them as duplicates.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from messages.settings import Settings
from tests.faults.conftest import FaultRandom
from tests.faults.harness.audit import install
from tests.faults.harness.proxy import ChaosProxy
from tests.faults.harness.rounds import fault_rounds, fault_timeout
from tests.faults.harness.run import (
    LOADTEST_PER_FAULT,
    new_workload,
    producer_settings,
    running_load,
)
from tests.faults.harness.verify import verify
from tests.faults.harness.writers import fleet
from tests.faults.test_writer_crash import progress

PRODUCER_RECONNECT_S = "0.5"
"""aio-pika's robust reconnect interval for the producers (its default is 5 s)."""


@pytest.mark.timeout(fault_timeout(10))
async def test_cut_amqp_connections_lose_and_repeat_nothing(
    settings: Settings, db: asyncpg.Connection, tmp_path: Path, fault_random: FaultRandom
) -> None:
    drops = fault_rounds()
    await install(settings.database_url)
    workload = new_workload("brokerloss")
    async with ChaosProxy.running(settings.amqp_url) as proxy:
        proxied = settings.model_copy(
            update={
                "amqp_url": proxy.url(settings.amqp_url, reconnect_interval=PRODUCER_RECONNECT_S)
            }
        )
        async with fleet(proxied, tmp_path, "brokerloss") as writers:
            await writers.consuming(writers.spawn())
            async with running_load(
                producer_settings(proxied), workload, loadtest_intents=LOADTEST_PER_FAULT * drops
            ) as load:
                for _ in range(drops):
                    await progress(workload, fault_random.rng.randint(1, 30))
                    await proxy.drop_all()
                await progress(workload, 20)  # the pipeline goes on after the last cut
            await writers.stop()
            lost_connection = len(writers.events("broker.lost"))
            failed_acks = sum(
                "ack failed" in event.get("error", "")
                for event in writers.events("partition.channel_lost")
            )
            redelivered = writers.count("intent.not_applied", outcome="duplicate")
    verdict = await verify(db, workload, mixed_reads=load.observation.mixed)
    verdict.include(load.loadtest)
    verdict.record(
        "AMQP connections cut (proxy)",
        injected=proxy.drops,
        intents=len(workload.ops),
        seed=fault_random.seed,
        details={
            "connections cut": proxy.dropped,
            "writer reconnections": lost_connection,
            "acks that failed after a commit": failed_acks,
            "redeliveries answered from the intent log": redelivered,
            "reads checked": load.observation.reads,
        },
    )
    verdict.assert_clean()
    assert proxy.drops == drops
    assert lost_connection >= drops
