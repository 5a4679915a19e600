"""Run the writer for a test: in this process (a task), or as a real `porch-writer` process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg

from messages.settings import Settings
from producers import Publisher, RenderProducer, ServerProducer
from writer.daemon import Writer

WRITER_TIMEOUT = 60.0


@contextlib.asynccontextmanager
async def running_writer(settings: Settings, **options: Any) -> AsyncIterator[Writer]:
    """A writer serving in the background of this test; stopped gracefully at the end."""
    writer = Writer(settings, **options)
    task = asyncio.create_task(writer.run())
    try:
        yield writer
    finally:
        writer.stop()
        async with asyncio.timeout(WRITER_TIMEOUT):
            await task


async def consuming(writer: Writer, timeout: float = 30.0) -> None:
    """Wait until every actor of `writer` has its consumer registered."""
    async with asyncio.timeout(timeout):
        await writer.actors_created.wait()
        for actor in writer.actors.values():
            await actor.consuming.wait()


async def drain(settings: Settings, **options: Any) -> Writer:
    """Run a writer until every queue is empty (drain mode), and return it."""
    writer = Writer(settings, until_empty=True, **options)
    async with asyncio.timeout(WRITER_TIMEOUT):
        await writer.run()
    return writer


@contextlib.asynccontextmanager
async def producers(
    settings: Settings, *, timeout: float = 30.0
) -> AsyncIterator[tuple[ServerProducer, RenderProducer]]:
    async with (
        Publisher(settings, name="test-server") as server,
        Publisher(settings, name="test-render") as render,
    ):
        yield ServerProducer(server, timeout=timeout), RenderProducer(render, timeout=timeout)


def environment(settings: Settings, **overrides: Any) -> dict[str, str]:
    """The PORCH_* variables that give a subprocess these settings."""
    values = settings.model_dump(mode="json") | overrides
    env = {key: value for key, value in os.environ.items() if not key.startswith("PORCH_")}
    for name, value in values.items():
        if value is None:
            continue
        text = json.dumps(value) if isinstance(value, dict | list) else str(value)
        env[f"PORCH_{name.upper()}"] = text
    env["PORCH_LOG_FORMAT"] = "json"
    return env


def writer_command() -> list[str]:
    """The installed `porch-writer` script of this environment."""
    script = Path(sys.executable).parent / "porch-writer"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from writer.cli import main; sys.exit(main())"]


class WriterProcess:
    """`porch-writer run` in a subprocess, its JSON log lines kept in a file for inspection."""

    def __init__(self, settings: Settings, log_path: Path, *args: str, **overrides: Any) -> None:
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [*writer_command(), "run", *args],
            env=environment(settings, **overrides),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        if not self._log.closed:
            self._log.flush()
        found = []
        for line in self.log_path.read_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if name is None or event.get("event") == name:
                found.append(event)
        return found

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signum)

    async def wait(self, timeout: float = WRITER_TIMEOUT) -> int:
        code = await asyncio.to_thread(self.process.wait, timeout)
        self._log.close()
        return code

    def close(self) -> None:
        if not self._log.closed:
            self._log.close()

    def kill(self) -> None:
        self.signal(signal.SIGKILL)


@contextlib.contextmanager
def writer_processes(
    settings: Settings, tmp_path: Path, count: int, *args: str, **overrides: Any
) -> Iterator[list[WriterProcess]]:
    processes = [
        WriterProcess(settings, tmp_path / f"writer-{index}.log", *args, **overrides)
        for index in range(count)
    ]
    try:
        yield processes
    finally:
        for process in processes:
            process.kill()
            process.process.wait(10)
            process.close()


async def log_count(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM intent_log"))
    finally:
        await connection.close()


async def resources_of(
    connection: asyncpg.Connection, namespace: str, revision: str
) -> dict[str, str]:
    rows = await connection.fetch(
        "SELECT resource_key, resource_value FROM resources "
        "WHERE k8s_name_space = $1 AND k8s_name = $2",
        namespace,
        revision,
    )
    return {row["resource_key"]: row["resource_value"] for row in rows}


def statuses(outcomes: Sequence[Any]) -> list[str]:
    return [outcome.status for outcome in outcomes]
