"""Guarantees 4 and 10 under database faults: the writer's PostgreSQL sessions are terminated at
random moments (some inside an open transaction), and the database refuses connections for a
few seconds; the partitions halt in place and resume by themselves."""

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
from tests.faults.harness.writers import WriterFleet, fleet
from tests.faults.test_writer_crash import progress
from tests.waiting import wait_until

REFUSAL_BACKOFF_S = 1.6
"""A refusal lasts until a halted partition backs off this long: a few seconds of outage."""


def plan(rounds: int, random: FaultRandom) -> list[str]:
    """Which fault each round injects: at least one refusal and one kill inside a transaction,
    a refusal every fifth round, the rest kills of one session or of all at random."""
    rounds = max(rounds, 2)
    kinds = ["in_transaction"] + ["refuse"] * max(1, rounds // 5)
    while len(kinds) < rounds:
        kinds.append(random.rng.choice(["in_transaction", "in_transaction", "all"]))
    random.rng.shuffle(kinds)
    return kinds


async def refuse_for_a_while(faults: DatabaseFaults, writers: WriterFleet) -> None:
    """Refuse connections until a partition has retried for a few seconds, then accept again."""
    halted_before = len(writers.events("partition.halted"))
    crashed_before = len(writers.events("partition.crashed"))
    await faults.refuse_connections(writers.live_names())

    async def long_enough() -> bool:
        halted = writers.events("partition.halted")[halted_before:]
        crashed = writers.events("partition.crashed")[crashed_before:]
        return (
            any(event.get("retry_in_s", 0) >= REFUSAL_BACKOFF_S for event in halted)
            or len(crashed) >= 5  # not halting in place: the test fails on it below
        )

    try:
        await wait_until(long_enough, timeout=60, interval=0.05, what="the writer to retry")
    finally:
        await faults.accept_connections()


@pytest.mark.timeout(fault_timeout(10))
async def test_database_sessions_killed_and_refused_lose_and_repeat_nothing(
    settings: Settings, db: asyncpg.Connection, tmp_path: Path, fault_random: FaultRandom
) -> None:
    rounds = plan(fault_rounds(), fault_random)
    await install(settings.database_url)
    workload = new_workload("dbloss")
    async with (
        fleet(settings, tmp_path, "dbloss") as writers,
        DatabaseFaults.connect(settings.database_url) as faults,
    ):
        writer = writers.spawn()
        await writers.consuming(writer)
        names = writers.live_names()
        async with running_load(
            producer_settings(settings), workload, loadtest_intents=LOADTEST_PER_FAULT * len(rounds)
        ) as load:
            for kind in rounds:
                await progress(workload, fault_random.rng.randint(1, 30))
                if kind == "all":
                    await faults.terminate_all(names)
                elif kind == "in_transaction":
                    await faults.terminate_in_transaction(names)
                else:
                    await refuse_for_a_while(faults, writers)
            await progress(workload, 20)  # the pipeline goes on after the last fault
        await writers.stop()
    halted = writers.events("partition.halted")
    crashed = writers.events("partition.crashed")
    verdict = await verify(db, workload, mixed_reads=load.observation.mixed)
    verdict.include(load.loadtest)
    verdict.record(
        "PostgreSQL connection loss",
        injected=len(rounds),
        intents=len(workload.ops),
        seed=fault_random.seed,
        details={
            "rounds killing one session inside a transaction": rounds.count("in_transaction"),
            "rounds killing every session": rounds.count("all"),
            "sessions terminated": faults.terminated,
            "of them inside an open transaction": faults.terminated_in_transaction,
            "database refused connections (times)": faults.refusals,
            "partition halts logged": len(halted),
            "partition crashes logged": len(crashed),
            "reads checked": load.observation.reads,
        },
    )
    verdict.assert_clean()
    assert faults.terminated_in_transaction >= 1
    assert halted, "the partitions halted while the database was away"
    assert not crashed, f"a partition crashed instead of halting in place: {crashed[:2]}"
