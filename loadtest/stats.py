"""Counters and latency samples of a run, and the percentiles the report shows."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from loadtest.ledger import Status, WriteKind

PERCENTILES = (("p50", 50.0), ("p95", 95.0), ("p99", 99.0))


def percentile(ordered: Sequence[float], rank: float) -> float:
    """Nearest-rank percentile of an ascending sequence (0.0 when empty)."""
    if not ordered:
        return 0.0
    index = max(0, math.ceil(rank / 100.0 * len(ordered)) - 1)
    return ordered[min(index, len(ordered) - 1)]


def summary_ms(samples_s: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds, rounded to microseconds."""
    ordered = sorted(samples_s)
    result = {name: round(percentile(ordered, rank) * 1000, 3) for name, rank in PERCENTILES}
    result["max"] = round((ordered[-1] if ordered else 0.0) * 1000, 3)
    return result


@dataclass
class Stats:
    """Filled by the actors as writes complete; read by the progress line and the report."""

    latencies: list[float] = field(default_factory=list)
    by_kind: dict[WriteKind, list[float]] = field(default_factory=dict)
    outcomes: dict[Status, int] = field(default_factory=lambda: dict.fromkeys(Status, 0))
    reasons: dict[str, int] = field(default_factory=dict)
    started: float = 0.0
    finished: float = 0.0
    max_lag_s: float = 0.0
    late_starts: int = 0

    def start(self) -> None:
        self.started = time.perf_counter()

    def finish(self) -> None:
        self.finished = time.perf_counter()

    def observe(
        self, kind: WriteKind, status: Status, latency_s: float, reason: str | None = None
    ) -> None:
        self.outcomes[status] += 1
        self.latencies.append(latency_s)
        self.by_kind.setdefault(kind, []).append(latency_s)
        if reason is not None and status in (Status.REJECTED, Status.ERROR):
            self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def observe_lag(self, lag_s: float) -> None:
        """How late a paced write started against its schedule (open-loop mode)."""
        if lag_s > 0.001:
            self.late_starts += 1
        self.max_lag_s = max(self.max_lag_s, lag_s)

    @property
    def writes(self) -> int:
        return len(self.latencies)

    @property
    def applied(self) -> int:
        return self.outcomes[Status.APPLIED]

    def elapsed(self) -> float:
        end = self.finished or time.perf_counter()
        return max(end - self.started, 1e-9) if self.started else 0.0

    def throughput(self) -> float:
        elapsed = self.elapsed()
        return self.applied / elapsed if elapsed else 0.0
