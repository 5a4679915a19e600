"""The load test's pipeline mode (loadtest/, `porch-loadtest`) as a second load of a fault run.

It drives its own server and render actors (hot packages, pushes with and without expected
versions, renders, lifecycle changes, publishes) through the real producers against the
writer under test, paced so that it spans the faults, and verifies its own ledger at the end
with its own verifier: nothing confirmed lost, nothing applied twice, outcomes as the intent
log holds them, every package one whole write. The fault harness' own workload adds what that
verifier does not check (per-package order, one audited write per intent, reads of whole
writes).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from loadtest.content import Shape
from loadtest.modes import Mode
from loadtest.runner import RunConfig, RunOutcome, run_mode
from loadtest.workload import Names, WorkloadSpec
from messages.settings import Settings
from tests.waiting import wait_until

SPEC = WorkloadSpec(
    shape=Shape(packages=16, resources=6, value_bytes=100),
    server_actors=4,
    render_actors=4,
    hot=4,
)
RATE = 25.0
"""Writes per second offered: the load lasts about intents / RATE seconds."""


class LoadTestRun:
    def __init__(self, settings: Settings, intents: int) -> None:
        self.settings = settings
        self.names = Names.fresh()
        self.config = RunConfig(spec=SPEC, duration=None, intents=intents, rate=RATE)
        self.task: asyncio.Task[RunOutcome] | None = None

    async def start(self) -> None:
        """Start it, and return once its packages exist (faults must not hit its setup)."""
        self.task = asyncio.create_task(
            run_mode(Mode.PIPELINE, self.settings, self.config, names=self.names)
        )
        connection = await asyncpg.connect(self.settings.database_url)
        try:

            async def created() -> bool:
                if self.task is not None and self.task.done():
                    self.task.result()  # its setup failed: say why
                count = await connection.fetchval(
                    "SELECT count(*) FROM package_revisions WHERE k8s_name_space = $1",
                    self.names.namespace,
                )
                return bool(count >= SPEC.shape.packages)

            await wait_until(created, timeout=120, interval=0.05, what="the load test's packages")
        finally:
            await connection.close()

    async def result(self) -> RunOutcome:
        assert self.task is not None
        return await self.task


def figures(outcome: RunOutcome) -> dict[str, Any]:
    """The load test's own counts and verdict, for the fault table."""
    verification = outcome.verification
    return {
        "load test writes": sum(outcome.stats.outcomes.values()),
        "load test outcomes": {str(k): v for k, v in outcome.stats.outcomes.items() if v},
        "load test lost / applied twice / mismatched / corrupt": (
            f"{len(verification.lost)} / {len(verification.applied_twice)} / "
            f"{len(verification.mismatched)} / {len(verification.corrupt)}"
        ),
    }


@contextlib.asynccontextmanager
async def load_test(settings: Settings, intents: int) -> AsyncIterator[LoadTestRun]:
    run = LoadTestRun(settings, intents)
    await run.start()
    try:
        yield run
    finally:
        if run.task is not None and not run.task.done():
            await asyncio.wait({run.task})
