"""A porch reader running beside a fault run: it reads every package the way porch does (one
SELECT of a revision's resources) and counts reads that saw anything but one whole write."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from tests.faults.harness.workload import Workload, is_whole

READ_INTERVAL_S = 0.02
"""The reader's pace: it samples the packages; nothing waits on it."""


@dataclass
class Observation:
    reads: int = 0
    mixed: int = 0
    examples: list[str] | None = None


async def _observe(
    database_url: str, workload: Workload, stop: asyncio.Event, seen: Observation
) -> None:
    connection = await asyncpg.connect(
        database_url, server_settings={"application_name": "fault-reader"}
    )
    try:
        while not stop.is_set():
            records = await connection.fetch(
                "SELECT k8s_name, resource_key, resource_value FROM resources "
                "WHERE k8s_name_space = $1",
                workload.namespace,
            )
            packages: dict[str, dict[str, str]] = defaultdict(dict)
            for record in records:
                packages[record["k8s_name"]][record["resource_key"]] = record["resource_value"]
            for package in workload.packages:
                resources = packages.get(f"{package}.ws")
                if resources is None:
                    continue
                seen.reads += 1
                if not is_whole(package, resources):
                    seen.mixed += 1
                    if seen.examples is None:
                        seen.examples = []
                    if len(seen.examples) < 5:
                        seen.examples.append(f"{package}: {resources}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), READ_INTERVAL_S)
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def observing(database_url: str, workload: Workload) -> AsyncIterator[Observation]:
    """Read the workload's packages until the block ends; the counts are in the result."""
    stop = asyncio.Event()
    seen = Observation()
    task = asyncio.create_task(_observe(database_url, workload, stop, seen))
    try:
        yield seen
    finally:
        stop.set()
        await task
