"""Small load tests of every mode against the real services, and the verifier's verdicts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from loadtest.content import KPTFILE, Shape
from loadtest.errors import WriterProcessError
from loadtest.ledger import Status
from loadtest.modes import Mode
from loadtest.runner import RunConfig, RunOutcome, run_mode
from loadtest.verify import verify
from loadtest.workload import WorkloadSpec
from loadtest.writers_process import WriterFleet
from messages.settings import Settings
from producers import Publisher

pytestmark = pytest.mark.services

SMALL = RunConfig(
    spec=WorkloadSpec(
        shape=Shape(packages=6, resources=6), server_actors=4, render_actors=4, hot=3, seed=3
    ),
    duration=None,
    intents=300,
)
HOT = RunConfig(
    # Eight pushers and eight renderers on two packages of 20 resources: legacy writes overlap
    # nearly always, and every overlap of two autocommit DELETE + INSERT sequences can merge.
    spec=WorkloadSpec(
        shape=Shape(packages=2, resources=20), server_actors=8, render_actors=8, hot=2, seed=5
    ),
    duration=None,
    intents=400,
)


async def run_pipeline(settings: Settings, config: RunConfig, log: Path) -> RunOutcome:
    fleet = WriterFleet(settings, 2, log)
    await fleet.start(ready_timeout=30)
    try:
        outcome = await run_mode(Mode.PIPELINE, settings, config)
    finally:
        problems = await fleet.stop(timeout=30)
    assert problems == [], f"see {log}"
    return outcome


async def test_pipeline_is_clean_and_planted_corruption_is_named(
    settings: Settings, db: asyncpg.Connection, tmp_path: Path
) -> None:
    outcome = await run_pipeline(settings, SMALL, tmp_path / "writers.log")
    check, stats = outcome.verification, outcome.stats
    assert check.corrupt == []
    assert check.lost == []
    assert check.applied_twice == []
    assert check.mismatched == []
    # Exactly the budget, but for a render that found nothing to do after the server actors
    # had already stopped at the end of the budget.
    assert 300 - SMALL.spec.render_actors <= stats.writes <= 300  # SMALL.intents
    assert stats.applied > 0
    assert stats.outcomes[Status.TIMEOUT] == stats.outcomes[Status.UNCONFIRMED] == 0
    assert check.revisions_checked >= SMALL.spec.shape.packages

    namespace = outcome.names.namespace
    victim, mixed = outcome.names.revision(0, 1), outcome.names.revision(1, 1)
    await db.execute(
        "DELETE FROM resources WHERE k8s_name_space = $1 AND k8s_name = $2 AND resource_key = $3",
        namespace,
        victim,
        KPTFILE,
    )
    # One row of `mixed` now holds another write's value (the setup's write of package 2).
    foreign = outcome.ledger.get("c2")
    assert foreign is not None
    assert foreign.bodies is not None
    key, body = foreign.bodies[1]
    await db.execute(
        "UPDATE resources SET resource_value = $4"
        " WHERE k8s_name_space = $1 AND k8s_name = $2 AND resource_key = $3",
        namespace,
        mixed,
        key,
        body + "# write: c2\n",
    )
    again = await verify(db, namespace, Mode.PIPELINE, outcome.ledger)
    named = {item.revision: item.problems for item in again.corrupt}
    assert set(named) == {victim, mixed}
    assert "Kptfile missing" in named[victim]
    assert any(problem.startswith("mixed from writes") for problem in named[mixed])
    assert any("c2 (1)" in problem for problem in named[mixed])


async def test_locked_mode_is_clean(settings: Settings) -> None:
    outcome = await run_mode(Mode.LOCKED, settings, SMALL)
    assert outcome.verification.corrupt == []
    assert outcome.stats.applied > 0
    assert outcome.stats.outcomes[Status.ERROR] == 0


async def test_direct_mode_runs_and_is_judged(settings: Settings) -> None:
    # Few actors: the direct mode's transactions deadlock now and then, a second each.
    calm = replace(SMALL, spec=replace(SMALL.spec, server_actors=2, render_actors=2), intents=100)
    outcome = await run_mode(Mode.DIRECT, settings, calm)
    assert 100 - calm.spec.render_actors <= outcome.stats.writes <= 100
    assert outcome.verification.revisions_checked >= SMALL.spec.shape.packages
    for item in outcome.verification.corrupt:
        assert item.problems  # every corrupt package says what is wrong


async def test_legacy_mode_corrupts_hot_packages(settings: Settings) -> None:
    outcome = await run_mode(Mode.LEGACY, settings, HOT)
    corrupt = outcome.verification.corrupt
    assert corrupt, "porch's autocommit DELETE + INSERTs should have merged overlapping writes"
    assert all(item.revision.startswith("lt-repo.pkg-") for item in corrupt)


async def test_pipeline_stays_clean_on_the_hot_workload(settings: Settings, tmp_path: Path) -> None:
    outcome = await run_pipeline(settings, replace(HOT, intents=400), tmp_path / "w.log")
    assert outcome.verification.ok


async def test_batch_sizes_come_from_intent_log_txid(
    settings: Settings, db: asyncpg.Connection, tmp_path: Path
) -> None:
    # The column the writer's intent_log is getting; IF NOT EXISTS once it has it.
    await db.execute(
        "ALTER TABLE intent_log ADD COLUMN IF NOT EXISTS txid BIGINT DEFAULT txid_current()"
    )
    outcome = await run_pipeline(settings, replace(SMALL, intents=150), tmp_path / "w.log")
    sizes = outcome.verification.batch_sizes
    assert sizes is not None
    logged = await db.fetchval(
        "SELECT count(*) FROM intent_log WHERE namespace = $1", outcome.names.namespace
    )
    assert sum(sizes) == logged
    assert min(sizes) >= 1


async def test_writers_that_cannot_start_are_reported_and_stopped(
    settings: Settings, tmp_path: Path
) -> None:
    async with Publisher(settings):
        pass  # the broker now holds this prefix's topology with settings.partitions
    disagreeing = settings.model_copy(update={"partitions": settings.partitions * 2})
    fleet = WriterFleet(disagreeing, 2, tmp_path / "w.log")
    with pytest.raises(WriterProcessError, match="while starting"):
        await fleet.start(ready_timeout=30)
    assert len(fleet.exited()) == 2  # none is left running
