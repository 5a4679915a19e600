"""Guarantees 2-5 under writer crashes: SIGKILL the active `porch-writer` at random moments
during a load, with a standby (or a restarted writer) taking over each time."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from messages.settings import Settings
from tests.faults.conftest import FaultRandom
from tests.faults.harness.audit import install
from tests.faults.harness.pg import DatabaseFaults
from tests.faults.harness.rounds import fault_rounds, fault_timeout
from tests.faults.harness.run import (
    LOADTEST_PER_FAULT,
    new_workload,
    producer_settings,
    running_load,
)
from tests.faults.harness.verify import verify
from tests.faults.harness.workload import Workload
from tests.faults.harness.writers import WriterFleet, fleet
from tests.waiting import wait_until


async def progress(workload: Workload, count: int) -> None:
    target = workload.completed + count

    async def reached() -> bool:
        return workload.completed >= target

    await wait_until(reached, timeout=60, what=f"{count} more outcomes")


async def pick_victim(
    writers: WriterFleet, sessions: DatabaseFaults, workload: Workload, random: FaultRandom
) -> tuple[str, bool]:
    """A live writer at a random moment: caught inside one of its transactions, or the one that
    wrote last after some progress. Returns its name and whether it was mid-transaction."""
    if random.rng.random() < 0.6:
        backend = await sessions.wait_busy(writers.live_names())
        return backend.application_name, True
    await progress(workload, random.rng.randint(1, 30))
    backends = await sessions.backends(writers.live_names())
    if backends:
        return backends[0].application_name, False
    return random.rng.choice(writers.live_names()), False


@pytest.mark.timeout(fault_timeout(10))
async def test_sigkill_of_the_active_writer_loses_and_repeats_nothing(
    settings: Settings, db: asyncpg.Connection, tmp_path: Path, fault_random: FaultRandom
) -> None:
    kills = fault_rounds()
    await install(settings.database_url)
    workload = new_workload("crash")
    in_transaction = 0
    async with (
        fleet(settings, tmp_path, "crash") as writers,
        DatabaseFaults.connect(settings.database_url) as sessions,
    ):
        first = writers.spawn()
        writers.spawn()
        await writers.consuming(first)
        async with running_load(
            producer_settings(settings), workload, loadtest_intents=LOADTEST_PER_FAULT * kills
        ) as load:
            for _ in range(kills):
                name, busy = await pick_victim(writers, sessions, workload, fault_random)
                await writers.kill(writers.by_name(name))
                in_transaction += busy
                replacement = writers.spawn()
                if fault_random.rng.random() < 0.5:
                    await writers.consuming(replacement)
            await progress(workload, 20)  # the pipeline goes on after the last kill
        await writers.stop()
        redelivered = writers.count("intent.not_applied", outcome="duplicate")
    verdict = await verify(db, workload, mixed_reads=load.observation.mixed)
    verdict.include(load.loadtest)
    verdict.record(
        "writer SIGKILL",
        injected=writers.killed,
        intents=len(workload.ops),
        seed=fault_random.seed,
        details={
            "killed inside a transaction": in_transaction,
            "redeliveries answered from the intent log": redelivered,
            "reads checked": load.observation.reads,
        },
    )
    verdict.assert_clean()
    assert writers.killed == kills
