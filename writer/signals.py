"""SIGTERM and SIGINT stop the writer gracefully; a second one stops it at once.

Installed by a context manager that puts the previous handlers back, so tests and embedding
code keep theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator
from types import FrameType

import structlog

log = structlog.get_logger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def graceful_signals(stop: Callable[[], None], force: Callable[[], None]) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def handle(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        name = signal.Signals(signum).name
        if len(received) == 1:
            log.info("writer.stopping", signal=name)
            loop.call_soon_threadsafe(stop)
        else:
            log.warning("writer.stopping_now", signal=name)
            loop.call_soon_threadsafe(force)

    previous = {signum: signal.signal(signum, handle) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
