"""A fleet of `porch-writer run` processes, each with its own name (its AMQP connection name and
its PostgreSQL application_name), so a fault can be aimed at one of them."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from messages.settings import Settings
from tests.pipeline import WriterProcess
from tests.waiting import wait_until


class WriterFleet:
    def __init__(
        self, settings: Settings, directory: Path, label: str, *args: str, **overrides: Any
    ) -> None:
        self._settings = settings
        self._directory = directory
        self._label = label
        self._args = args
        self._overrides = overrides
        self.names: dict[WriterProcess, str] = {}
        self.killed = 0

    def spawn(self) -> WriterProcess:
        name = f"{self._label}-{len(self.names)}"
        process = WriterProcess(
            self._settings,
            self._directory / f"{name}.log",
            *self._args,
            "--name",
            name,
            **self._overrides,
        )
        self.names[process] = name
        return process

    @property
    def live(self) -> list[WriterProcess]:
        return [process for process in self.names if process.process.poll() is None]

    def live_names(self) -> list[str]:
        return [self.names[process] for process in self.live]

    def by_name(self, name: str) -> WriterProcess:
        return next(process for process, known in self.names.items() if known == name)

    async def kill(self, process: WriterProcess) -> None:
        process.kill()
        await process.wait()
        self.killed += 1

    async def consuming(self, process: WriterProcess, timeout: float = 60.0) -> None:
        """Until the process has registered a consumer on every partition queue."""

        async def probe() -> bool:
            if process.process.poll() is not None:
                raise AssertionError(f"{self.names[process]} exited: {process.events()[-5:]}")
            seen = {event["partition"] for event in process.events("partition.consuming")}
            return len(seen) >= self._settings.partitions

        await wait_until(
            probe, timeout=timeout, interval=0.05, what=f"{self.names[process]} to consume"
        )

    def events(self, name: str) -> list[dict[str, Any]]:
        return [event for process in self.names for event in process.events(name)]

    def count(self, name: str, **fields: Any) -> int:
        return sum(
            all(event.get(key) == value for key, value in fields.items())
            for event in self.events(name)
        )

    async def stop(self) -> None:
        """SIGTERM every live process and wait; whatever does not exit is killed."""
        for process in self.live:
            process.signal(signal.SIGTERM)
        for process in list(self.names):
            try:
                await process.wait(timeout=self._settings.shutdown_grace_s + 20)
            except Exception:
                process.kill()
                await process.wait()

    def close(self) -> None:
        for process in self.names:
            process.kill()
            with contextlib.suppress(Exception):
                process.process.wait(10)
            process.close()


@contextlib.asynccontextmanager
async def fleet(
    settings: Settings, directory: Path, label: str, *args: str, **overrides: Any
) -> AsyncIterator[WriterFleet]:
    writers = WriterFleet(settings, directory, label, *args, **overrides)
    try:
        yield writers
    finally:
        writers.close()
