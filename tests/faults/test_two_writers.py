"""Guarantee 1 when a second writer is active by mistake: the advisory locks keep writes to a
package serial, and the intent log turns copies of an intent into duplicates.

(a) Two deployments (their own topology prefix and partition count) write the same database
    and the same packages at once, so a package has a different partition number in each.
(b) A rogue deployment whose queues are bound to the rightful exchange gets a copy of every
    intent and applies it concurrently, ignoring single active consumer altogether.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from messages.settings import Settings
from producers import Topology
from tests.faults.conftest import FaultRandom
from tests.faults.harness.audit import install
from tests.faults.harness.pg import DatabaseFaults, sampling_lock_waits
from tests.faults.harness.report import FaultRecord, record
from tests.faults.harness.rounds import fault_rounds, fault_timeout
from tests.faults.harness.run import new_workload, producer_settings, running_load
from tests.faults.harness.topology import bind_rogue, deleted_afterwards
from tests.faults.harness.verify import Verdict, verify
from tests.faults.harness.writers import WriterFleet, fleet
from tests.faults.test_writer_crash import progress

WRITES_PER_ROUND = 20


def applied_by(writers: WriterFleet) -> int:
    return sum(event.get("applied", 0) for event in writers.events("batch.applied"))


def record_verdict(
    fault: str, verdict: Verdict, injected: int, intents: int, **details: object
) -> None:
    record(
        FaultRecord(
            fault=fault,
            injected=injected,
            intents=intents,
            lost=len(verdict.lost),
            applied_twice=len(verdict.applied_twice),
            corrupt=len(verdict.corrupt),
            order_violations=len(verdict.order_violations),
            details={**details, **verdict.counts},
        )
    )


@pytest.mark.timeout(fault_timeout(5))
async def test_deployments_with_different_partition_counts_write_serially(
    settings: Settings, db: asyncpg.Connection, tmp_path: Path
) -> None:
    other = settings.model_copy(
        update={"topology_prefix": settings.topology_prefix + "b", "partitions": 3}
    )
    target = fault_rounds() * WRITES_PER_ROUND
    await install(settings.database_url)
    first = new_workload("twodeploy", packages=4, label="a", chained=False)
    second = new_workload("twodeploy", packages=4, label="b", chained=False)
    async with (
        deleted_afterwards(settings.amqp_url, Topology.from_settings(other)),
        fleet(settings, tmp_path, "deploy-a") as writers_a,
        fleet(other, tmp_path, "deploy-b") as writers_b,
        DatabaseFaults.connect(settings.database_url) as sessions,
    ):
        await writers_a.consuming(writers_a.spawn())
        await writers_b.consuming(writers_b.spawn())
        names = writers_a.live_names() + writers_b.live_names()
        async with running_load(producer_settings(settings), first) as load_a:
            second.share_packages(first)
            async with (
                sampling_lock_waits(sessions, names) as waits,
                running_load(producer_settings(other), second, setup=False) as load_b,
            ):
                await progress(first, target)
                await progress(second, target)
        await writers_a.stop()
        await writers_b.stop()
    verdict = await verify(
        db, first, second, mixed_reads=load_a.observation.mixed + load_b.observation.mixed
    )
    record_verdict(
        "second deployment, other partition count",
        verdict,
        injected=len(second.ops),
        intents=len(first.ops) + len(second.ops),
        **{
            "writes applied by deployment a": applied_by(writers_a),
            "writes applied by deployment b": applied_by(writers_b),
            "lock samples with a writer waiting": f"{waits.waiting} of {waits.samples}",
        },
    )
    verdict.assert_clean()
    for package in first.packages:  # both deployments wrote every package
        for workload in (first, second):
            assert any(op.package == package and op.outcome for op in workload.ops), package
    assert waits.waiting, "the two writers never contended for a lock: the test proved nothing"


@pytest.mark.timeout(fault_timeout(5))
async def test_a_rogue_writer_with_a_copy_of_every_intent_corrupts_nothing(
    settings: Settings, db: asyncpg.Connection, tmp_path: Path, fault_random: FaultRandom
) -> None:
    rogue = settings.model_copy(
        update={"topology_prefix": settings.topology_prefix + "rogue", "partitions": 3}
    )
    target = fault_rounds() * WRITES_PER_ROUND
    await install(settings.database_url)
    workload = new_workload("rogue", packages=6)
    async with (
        deleted_afterwards(settings.amqp_url, Topology.from_settings(rogue)),
        fleet(settings, tmp_path, "rightful") as rightful,
        fleet(rogue, tmp_path, "rogue") as rogues,
        DatabaseFaults.connect(settings.database_url) as sessions,
    ):
        await rightful.consuming(rightful.spawn())
        await rogues.consuming(rogues.spawn())
        bindings = await bind_rogue(
            settings.amqp_url, Topology.from_settings(settings), Topology.from_settings(rogue)
        )
        names = rightful.live_names() + rogues.live_names()
        async with (
            sampling_lock_waits(sessions, names) as waits,
            running_load(producer_settings(settings), workload) as load,
        ):
            await progress(workload, target)
        await rightful.stop()
        await rogues.stop()
    # Not with the load test beside it: its setup counts a create answered `duplicate` first
    # (the other writer's copy replied sooner) as a failure.
    verdict = await verify(db, workload, mixed_reads=load.observation.mixed)
    copies = {
        "applied by the rightful writer": applied_by(rightful),
        "applied by the rogue writer": applied_by(rogues),
        "copies answered as duplicates (rightful)": rightful.count(
            "intent.not_applied", outcome="duplicate"
        ),
        "copies answered as duplicates (rogue)": rogues.count(
            "intent.not_applied", outcome="duplicate"
        ),
    }
    record_verdict(
        "rogue writer with a copy of every intent",
        verdict,
        injected=len(workload.ops),
        intents=len(workload.ops) + verdict.extra_intents,
        **copies,
        **{
            "rogue bindings": bindings,
            "lock samples with a writer waiting": f"{waits.waiting} of {waits.samples}",
        },
    )
    verdict.assert_clean()
    assert copies["applied by the rogue writer"] > 0, "the rogue never won a race"
    assert copies["applied by the rightful writer"] > 0
    duplicates = (
        copies["copies answered as duplicates (rightful)"]
        + copies["copies answered as duplicates (rogue)"]
    )
    assert duplicates >= len(workload.ops) - 1  # every intent's second copy (setup included)
