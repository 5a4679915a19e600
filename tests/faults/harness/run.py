"""The frame every fault run shares: producers, the load and a reader, then the verdict."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from loadtest.runner import RunOutcome
from messages.settings import Settings
from producers import Publisher
from tests.faults.harness.loadtest_load import load_test
from tests.faults.harness.observer import Observation, observing
from tests.faults.harness.workload import Bounds, Workload

PUBLISH_TIMEOUT_S = 3.0
OUTCOME_TIMEOUT_S = 5.0
LOADTEST_PER_FAULT = 40
"""Load-test writes offered per injected fault (at 25 a second, about 1.6 s per fault)."""


def producer_settings(settings: Settings, **changes: object) -> Settings:
    """Short producer timeouts, so a fault shows as an error quickly and the load goes on."""
    return settings.model_copy(
        update={
            "publish_timeout_s": PUBLISH_TIMEOUT_S,
            "outcome_timeout_s": OUTCOME_TIMEOUT_S,
            **changes,
        }
    )


def new_workload(namespace: str, packages: int = 8, **options: Any) -> Workload:
    return Workload(namespace, packages, Bounds(PUBLISH_TIMEOUT_S, OUTCOME_TIMEOUT_S), **options)


@dataclass
class Load:
    workload: Workload
    observation: Observation
    server: Publisher
    render: Publisher
    loadtest: RunOutcome | None = None
    """The load test's run beside the workload (when asked for), once it has finished."""


@contextlib.asynccontextmanager
async def running_load(
    settings: Settings, workload: Workload, *, setup: bool = True, loadtest_intents: int = 0
) -> AsyncIterator[Load]:
    """Producers connected, the workload's packages created, clients and a reader running, and
    with `loadtest_intents` the load test's pipeline mode beside them (its packages created).

    On exit the clients finish the write they are in (each bounded by the workload's budget)
    and the load test its budget, so a writer must still be serving then.
    """
    async with (
        Publisher(settings, name="fault-server") as server,
        Publisher(settings, name="fault-render") as render,
        contextlib.AsyncExitStack() as stack,
    ):
        if setup:
            await workload.setup(server)
        run = None
        if loadtest_intents:
            run = await stack.enter_async_context(load_test(settings, loadtest_intents))
        stop = asyncio.Event()
        async with observing(settings.database_url, workload) as observation:
            clients = asyncio.create_task(workload.run(server, render, stop))
            load = Load(workload, observation, server, render)
            try:
                yield load
            finally:
                stop.set()
                await clients
                if run is not None:
                    load.loadtest = await run.result()
