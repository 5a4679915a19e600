"""One run of one mode: set up a namespace, drive the actors, stop, verify, collect the numbers."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import asyncpg

from loadtest.actors import RenderActor, RunContext, ServerActor
from loadtest.content import ContentBook, stamp
from loadtest.errors import SetupError
from loadtest.ledger import Ledger, Status, WriteKind
from loadtest.modes import Backend, Mode, NewRevision
from loadtest.modes.legacy import LegacyBackend
from loadtest.modes.locked import LockedBackend
from loadtest.modes.pipeline import PipelineBackend
from loadtest.pacing import Budget, Pacer
from loadtest.queries import QUERIES
from loadtest.stats import Stats
from loadtest.verify import Verification, verify
from loadtest.workload import Board, Names, WorkloadSpec
from messages.settings import Settings

PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True)
class RunConfig:
    spec: WorkloadSpec
    duration: float | None = 20.0
    intents: int | None = None
    rate: float | None = None
    writers: int = 1
    external_writer: bool = False
    progress: bool = False
    writer_log: Path | None = None


@dataclass
class RunOutcome:
    """Everything the report needs about one mode's run."""

    mode: Mode
    names: Names
    config: RunConfig
    partitions: int
    stats: Stats
    verification: Verification
    setup_s: float
    dropped_slots: int
    ledger: Ledger = field(default_factory=Ledger)
    writer_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.verification.ok and not self.writer_problems


async def prepare_database(database_url: str) -> list[str]:
    """VACUUM the tables a run writes; returns notes for the report."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(QUERIES["vacuum_tables"])
        autovacuum = await connection.fetchval(QUERIES["autovacuum_setting"])
    finally:
        await connection.close()
    if autovacuum == "off":
        return [
            "autovacuum is off on this server: dead rows pile up during the run and slow "
            "every mode's later writes (each run starts vacuumed)"
        ]
    return []


def make_backend(mode: Mode, settings: Settings, names: Names, spec: WorkloadSpec) -> Backend:
    actors = spec.server_actors + spec.render_actors
    if mode is Mode.PIPELINE:
        return PipelineBackend(settings, names, pool_size=actors + 2)
    if mode is Mode.LOCKED:
        return LockedBackend(settings.database_url, names, pool_size=actors + 2)
    atomic = mode is Mode.DIRECT
    return LegacyBackend(settings.database_url, names, pool_size=actors + 2, atomic=atomic)


async def _setup(backend: Backend, book: ContentBook, board: Board, ledger: Ledger) -> None:
    records, drafts = [], []
    for package in range(len(board.packages)):
        bodies, revision = book.bodies(package, 0), board.revision(package)
        records.append(ledger.begin(f"c{package}", WriteKind.CREATE, revision, bodies))
        drafts.append(NewRevision(package, revision, stamp(bodies, f"c{package}")))
    results = await backend.setup(drafts)
    for record, result in zip(records, results, strict=True):
        ledger.finish(record, result)
    failed = [record for record in records if record.status is not Status.APPLIED]
    if failed:
        raise SetupError(
            f"{len(failed)} of {len(records)} packages were not created, e.g. "
            f"{failed[0].revision}: {failed[0].status} {failed[0].detail or ''}"
        )


def _phase(config: RunConfig, message: str) -> None:
    if config.progress:
        print(message, file=sys.stderr, flush=True)


async def _progress(mode: Mode, stats: Stats, stream: TextIO) -> None:
    try:
        while True:
            await asyncio.sleep(PROGRESS_EVERY_S)
            outcomes = stats.outcomes
            stream.write(
                f"\r[{mode}] {stats.elapsed():6.1f}s  writes {stats.writes:>7}  "
                f"applied {stats.applied:>7} ({stats.throughput():7.1f}/s)  "
                f"stale {outcomes[Status.STALE]}  conflict {outcomes[Status.CONFLICT]}  "
                f"rejected {outcomes[Status.REJECTED]}  error {outcomes[Status.ERROR]}   "
            )
            stream.flush()
    except asyncio.CancelledError:
        stream.write("\n")
        stream.flush()
        raise


async def _drive(context: RunContext, config: RunConfig, mode: Mode) -> None:
    spec = context.spec
    servers = [
        asyncio.create_task(ServerActor(context, index).run())
        for index in range(spec.server_actors)
    ]
    renders = [
        asyncio.create_task(RenderActor(context, index).run())
        for index in range(spec.render_actors)
    ]
    progress = (
        asyncio.create_task(_progress(mode, context.stats, sys.stderr)) if config.progress else None
    )
    context.stats.start()
    try:
        servers_done = asyncio.gather(*servers)
        await asyncio.wait_for(asyncio.shield(servers_done), config.duration)
    except TimeoutError:
        pass
    finally:
        context.stop.set()
        context.close_handoffs()
        await asyncio.gather(*servers, *renders)
        context.stats.finish()
        if progress is not None:
            progress.cancel()
            await asyncio.gather(progress, return_exceptions=True)


async def run_mode(
    mode: Mode, settings: Settings, config: RunConfig, *, names: Names | None = None
) -> RunOutcome:
    names = names or Names.fresh()
    spec = config.spec
    notes = await prepare_database(settings.database_url)
    book, board, ledger = ContentBook(spec.shape), Board(names, spec.shape.packages), Ledger()
    backend = make_backend(mode, settings, names, spec)
    await backend.start()
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        _phase(config, f"[{mode}] creating {spec.shape.packages} packages in {names.namespace}")
        await _setup(backend, book, board, ledger)
        setup_s = loop.time() - started
        context = RunContext(
            spec=spec,
            backend=backend,
            board=board,
            book=book,
            ledger=ledger,
            stats=Stats(),
            pacer=Pacer(config.rate),
            budget=Budget(config.intents),
        )
        await _drive(context, config, mode)
    finally:
        await backend.close()
    _phase(config, f"[{mode}] verifying")
    connection = await asyncpg.connect(settings.database_url)
    try:
        verification = await verify(
            connection, names.namespace, mode, ledger, drain_timeout=settings.outcome_timeout_s
        )
    finally:
        await connection.close()
    verification.notes[:0] = notes
    return RunOutcome(
        mode=mode,
        names=names,
        config=config,
        partitions=settings.partitions,
        stats=context.stats,
        verification=verification,
        setup_s=setup_s,
        dropped_slots=context.pacer.dropped,
        ledger=ledger,
    )


def describe_workload(outcome: RunOutcome) -> dict[str, Any]:
    config, spec = outcome.config, outcome.config.spec
    return {
        "packages": spec.shape.packages,
        "resources": spec.shape.resources,
        "value_bytes": spec.shape.value_bytes,
        "server_actors": spec.server_actors,
        "render_actors": spec.render_actors,
        "hot_packages": spec.hot,
        "hot_share": spec.hot_share,
        "seed": spec.seed,
        "duration_s": config.duration,
        "intents": config.intents,
        "rate": config.rate,
        "partitions": outcome.partitions,
        "writers": None if outcome.mode is not Mode.PIPELINE else config.writers,
        "external_writer": config.external_writer,
    }
