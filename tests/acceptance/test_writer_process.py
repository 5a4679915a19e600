"""Writer processes: graceful stop, standby takeover, SIGKILL mid-batch, mis-set partitions."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

from messages import Applied, ResourcesUpdate
from messages.settings import Settings
from producers import Publisher
from tests.factories import KPTFILE, make_create, make_push, make_repository
from tests.pipeline import WriterProcess, log_count, resources_of, writer_processes
from tests.waiting import wait_until

NS = "ns"


def consuming_all(process: WriterProcess, partitions: int) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        seen = {event["partition"] for event in process.events("partition.consuming")}
        return len(seen) == partitions

    return probe


def content(package: str, step: int) -> dict[str, str]:
    return {"Kptfile": KPTFILE, "cm.yaml": f"step: {step}\n", f"only-{step % 3}.yaml": package}


async def setup_packages(publisher: Publisher, packages: list[str]) -> None:
    outcome = await publisher.request(make_repository(NS, "repo"))
    assert outcome.status == "applied"
    creates = [make_create(NS, p, f"{p}.ws", content(p, -1)) for p in packages]
    outcomes = await asyncio.gather(*(publisher.request(create) for create in creates))
    assert {o.status for o in outcomes} == {"applied"}


async def test_sigterm_finishes_and_exits_zero(settings: Settings, tmp_path: Path) -> None:
    with writer_processes(settings, tmp_path, 1) as (writer,):
        await wait_until(consuming_all(writer, settings.partitions), what="consumers")
        async with Publisher(settings) as publisher:
            await setup_packages(publisher, ["repo.t"])
            pushes = [make_push(NS, "repo.t", "repo.t.ws", content("repo.t", i)) for i in range(50)]
            for push in pushes:
                await publisher.publish(push)
            writer.signal(signal.SIGTERM)
            assert await writer.wait(timeout=settings.shutdown_grace_s + 10) == 0
    assert writer.events("writer.stopped")
    # Whatever it did not apply is still queued: a drain applies the rest, nothing is lost.
    with writer_processes(settings, tmp_path / "drain", 1, "--until-empty") as (drainer,):
        assert await drainer.wait() == 0
    assert await log_count(settings.database_url) == 2 + 50


async def test_a_standby_writer_takes_over_at_once(
    settings: Settings, tmp_path: Path, db: asyncpg.Connection
) -> None:
    packages = [f"repo.s{index}" for index in range(12)]
    with writer_processes(settings, tmp_path, 2) as writers:
        for writer in writers:
            await wait_until(consuming_all(writer, settings.partitions), what="consumers")
        async with Publisher(settings) as publisher:
            await setup_packages(publisher, packages)
            active = [
                {event["partition"] for event in writer.events("batch.applied")}
                for writer in writers
            ]
            assert not active[0] & active[1], "single active consumer: one writer per partition"
            first = 0 if active[0] else 1
            writers[first].signal(signal.SIGTERM)
            assert await writers[first].wait() == 0
            pushes = [make_push(NS, p, f"{p}.ws", content(p, 1)) for p in packages]
            outcomes = await asyncio.gather(*(publisher.request(p, timeout=20) for p in pushes))
        assert {outcome.status for outcome in outcomes} == {"applied"}
        taken_over = {event["partition"] for event in writers[1 - first].events("batch.applied")}
        assert active[first] <= taken_over


async def test_sigkill_mid_batch_loses_nothing_and_applies_nothing_twice(
    settings: Settings, tmp_path: Path, db: asyncpg.Connection
) -> None:
    packages = [f"repo.k{index}" for index in range(20)]
    steps = 60
    pushes: list[ResourcesUpdate] = [
        make_push(NS, package, f"{package}.ws", content(package, step))
        for step in range(steps)
        for package in packages
    ]
    async with Publisher(settings) as publisher:
        with writer_processes(settings, tmp_path / "setup", 1) as (writer,):
            await setup_packages(publisher, packages)
            writer.signal(signal.SIGTERM)
            await writer.wait()
        for push in pushes:  # one channel, one at a time: broker order is this order
            await publisher.publish(push)
    total = 1 + len(packages) + len(pushes)
    for round_ in range(3):
        with writer_processes(settings, tmp_path / f"kill{round_}", 1) as (writer,):
            floor = await log_count(settings.database_url) + 150

            async def progressed(floor: int = floor) -> bool:
                return await log_count(settings.database_url) >= min(floor, total)

            await wait_until(progressed, what="the writer to make progress")
            writer.kill()
            await writer.wait()
    with writer_processes(settings, tmp_path / "final", 1, "--until-empty") as (writer,):
        assert await writer.wait() == 0
    rows = await db.fetch("SELECT intent_id, name, status, version FROM intent_log ORDER BY seq")
    assert len(rows) == total  # nothing lost, and each intent recorded once
    assert {row["status"] for row in rows} == {"applied"}
    for package in packages:
        mine = [row for row in rows if row["name"] == package]
        expected = [push.intent_id for push in pushes if push.package == package]
        assert [row["intent_id"] for row in mine][1:] == expected  # order kept
        versions = [row["version"] for row in mine]
        assert versions == sorted(set(versions))  # strictly increasing: nothing applied twice
        assert await resources_of(db, NS, f"{package}.ws") == content(package, steps - 1)


async def test_deployments_that_disagree_on_partitions_still_write_serially(
    settings: Settings, tmp_path: Path, db: asyncpg.Connection, other_prefix: str
) -> None:
    other = settings.model_copy(update={"topology_prefix": other_prefix, "partitions": 3})
    packages = [f"repo.d{index}" for index in range(8)]
    async with Publisher(settings) as first, Publisher(other) as second:
        with (
            writer_processes(settings, tmp_path / "a", 1) as (_,),
            writer_processes(other, tmp_path / "b", 1) as (_,),
        ):
            await setup_packages(first, packages)
            writes = [
                (publisher, make_push(NS, p, f"{p}.ws", content(p, step * 2 + side)))
                for step in range(40)
                for p in packages
                for side, publisher in enumerate((first, second))
            ]
            outcomes = await asyncio.gather(
                *(publisher.request(push, timeout=60) for publisher, push in writes)
            )
    assert Counter(o.status for o in outcomes) == Counter({"applied": len(writes)})
    versions = {o.intent_id: o.version for o in outcomes if isinstance(o, Applied)}
    for package in packages:
        final = await resources_of(db, NS, f"{package}.ws")
        candidates = [content(package, step) for step in range(80)]
        assert final in candidates, f"{package} holds a mix: {final}"
        mine = sorted(
            versions[push.intent_id] or 0 for _, push in writes if push.package == package
        )
        assert len(set(mine)) == len(mine)  # every write got its own version: serial
