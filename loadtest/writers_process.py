"""The writer daemons of a run: `porch-writer migrate`, then N `porch-writer run` subprocesses.

The partitions are split between the N writers (contiguous ranges), so each process serves its
own share and the run uses every core. They get the run's PORCH_* settings, log to a file, and
are stopped with SIGTERM at the end; each must exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

import aio_pika
import aiormq

from loadtest.errors import WriterProcessError
from messages.settings import ENV_PREFIX, Settings
from producers.topology import Topology


def writer_command() -> list[str]:
    """The `porch-writer` console script beside this interpreter, else on PATH."""
    beside = Path(sys.executable).with_name("porch-writer")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("porch-writer")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from writer.cli import main; sys.exit(main())"]


def partition_ranges(partitions: int, writers: int) -> list[str]:
    """`0-7`, `8-15` ...: contiguous shares as even as possible."""
    if not 1 <= writers <= partitions:
        raise ValueError(f"--writers must be within 1..{partitions} (the partition count)")
    bounds = [partitions * index // writers for index in range(writers + 1)]
    return [f"{low}-{high - 1}" for low, high in itertools.pairwise(bounds)]


def writer_environment(settings: Settings) -> dict[str, str]:
    """The run's settings as PORCH_* variables, so the writers see exactly what it sees."""
    env = dict(os.environ)
    for name, value in settings.model_dump(mode="json", exclude_none=True).items():
        if name not in _WRITER_OWN:
            env[ENV_PREFIX + name.upper()] = value if isinstance(value, str) else json.dumps(value)
    # A line per batch would cost the writers CPU the run measures; warnings still show.
    env.setdefault("PORCH_LOG_LEVEL", "warning")
    env.setdefault("PORCH_LOG_FORMAT", "json")
    return env


async def migrate(settings: Settings) -> str:
    """`porch-writer migrate`; returns its output, raises with it on failure."""
    process = await asyncio.create_subprocess_exec(
        *writer_command(),
        "migrate",
        env=writer_environment(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace").strip()
    if process.returncode != 0:
        raise WriterProcessError(f"porch-writer migrate exited {process.returncode}: {text}")
    return text


_WRITER_OWN = frozenset({"log_level", "log_format"})
"""Left to the environment: the writers log warnings to their file unless told otherwise."""


class WriterFleet:
    def __init__(self, settings: Settings, count: int, log_path: Path) -> None:
        self._settings = settings
        self._ranges = partition_ranges(settings.partitions, count)
        self.log_path = log_path
        self._log: IO[bytes] | None = None
        self._processes: list[asyncio.subprocess.Process] = []

    async def start(self, ready_timeout: float = 60.0) -> None:
        self._log = self.log_path.open("ab")
        env = writer_environment(self._settings)
        for index, share in enumerate(self._ranges):
            process = await asyncio.create_subprocess_exec(
                *writer_command(),
                "run",
                "--partitions",
                share,
                "--name",
                f"porch-loadtest-writer-{index}",
                env=env,
                stdout=self._log,
                stderr=self._log,
            )
            self._processes.append(process)
        try:
            await self._wait_ready(ready_timeout)
        except BaseException:
            await self.stop(timeout=10)  # never leave a half-started fleet behind
            raise

    def exited(self) -> list[str]:
        return [
            f"writer {index} (pid {process.pid}) exited {process.returncode}"
            for index, process in enumerate(self._processes)
            if process.returncode is not None
        ]

    async def _wait_ready(self, timeout: float) -> None:
        try:
            await wait_for_consumers(self._settings, timeout, self.exited)
        except WriterProcessError as error:
            raise WriterProcessError(f"{error}; see {self.log_path}") from None

    async def stop(self, timeout: float = 30.0) -> list[str]:
        """SIGTERM each writer and wait; returns what went wrong (empty: all exited 0)."""
        problems = self.exited()
        running = [process for process in self._processes if process.returncode is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            try:
                code = await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                process.kill()
                await process.wait()
                problems.append(f"writer pid {process.pid} ignored SIGTERM for {timeout}s")
                continue
            if code != 0:
                problems.append(f"writer pid {process.pid} exited {code} after SIGTERM")
        if self._log is not None:
            self._log.close()
        return problems


async def wait_for_consumers(
    settings: Settings, timeout: float, failures: Callable[[], list[str]] = list
) -> None:
    """Every partition queue has a consumer; `WriterProcessError` on `failures` or timeout."""
    topology = Topology.from_settings(settings)
    queues = [topology.queue(index) for index in range(topology.partitions)]
    connection = await aio_pika.connect(settings.amqp_url, timeout=10)
    try:
        async with asyncio.timeout(timeout):
            while not await _all_consumed(connection, queues):
                if failures():
                    raise WriterProcessError("; ".join(failures()) + " while starting")
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise WriterProcessError(
            f"no writer consumed every partition queue of prefix {topology.prefix!r} "
            f"within {timeout}s"
        ) from None
    finally:
        await connection.close()


async def _all_consumed(connection: aio_pika.abc.AbstractConnection, queues: list[str]) -> bool:
    channel = await connection.channel()
    try:
        for name in queues:
            queue = await channel.declare_queue(name, passive=True)
            if not queue.declaration_result.consumer_count:
                return False
        return True
    except aiormq.exceptions.ChannelNotFoundEntity:
        return False  # not declared yet; the failed declare closed the channel
    finally:
        if not channel.is_closed:
            with contextlib.suppress(aiormq.exceptions.AMQPError, RuntimeError):
                await channel.close()
