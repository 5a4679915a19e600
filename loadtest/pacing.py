"""When actors may start a write: an open-loop schedule, an intent budget, the stop signal.

With a rate, write slots are due at fixed times (t0 + i / rate) whatever happened to earlier
writes (open loop), so a slow system builds a backlog instead of quietly lowering the offered
load; the actors bound the concurrency. A backlog older than `MAX_BACKLOG_S` is dropped and
counted, so a stall is not followed by an unbounded burst.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

MAX_BACKLOG_S = 1.0


class Pacer:
    def __init__(
        self, rate: float | None, *, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        self._interval = None if rate is None else 1.0 / rate
        self._clock = clock
        self._next: float | None = None
        self.dropped = 0

    def reserve(self) -> tuple[float, float]:
        """The next slot: (seconds to wait before it, how late it already is)."""
        now = self._clock()
        if self._interval is None:
            return 0.0, 0.0
        if self._next is None:
            self._next = now
        if now - self._next > MAX_BACKLOG_S:
            missed = int((now - self._next) / self._interval)
            self.dropped += missed
            self._next += missed * self._interval
        slot = self._next
        self._next += self._interval
        return max(slot - now, 0.0), max(now - slot, 0.0)

    async def wait(self) -> float:
        """Wait for the next slot; returns how late it started (0.0 unpaced)."""
        delay, lag = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)
        return lag


class Budget:
    """`--intents N`: how many writes may still start (None: no limit)."""

    def __init__(self, total: int | None) -> None:
        self._left = total

    def take(self) -> bool:
        if self._left is None:
            return True
        if self._left <= 0:
            return False
        self._left -= 1
        return True

    def give_back(self) -> None:
        """A taken write did not happen after all (nothing to write, or the run stopped)."""
        if self._left is not None:
            self._left += 1

    @property
    def exhausted(self) -> bool:
        return self._left is not None and self._left <= 0
