"""The figures of a fault run: what was injected and what was lost or corrupted, per fault class.

Each fault test records one `FaultRecord`; tests/faults/conftest.py prints them as a table at the
end of the session and writes them to `PORCH_FAULT_REPORT` (JSON) when it is set, which is
where docs/RELIABILITY.md takes its numbers from.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RECORDS: list[FaultRecord] = []


@dataclass
class FaultRecord:
    fault: str
    """The fault class, as named in docs/RELIABILITY.md."""
    injected: int
    """How many faults (kills, terminations, drops, restarts, bad deliveries) were injected."""
    intents: int
    """Intents sent while faults were injected."""
    lost: int = 0
    """Confirmed intents without an effect or an outcome."""
    applied_twice: int = 0
    """Intents whose effect was written more than once."""
    corrupt: int = 0
    """Packages whose final state is not the last applied write, or reads that saw a mix."""
    order_violations: int = 0
    seed: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def record(entry: FaultRecord) -> None:
    RECORDS.append(entry)


def table(records: list[FaultRecord]) -> list[str]:
    header = (
        f"{'fault':34} {'injected':>8} {'intents':>8} {'lost':>5} {'twice':>5} "
        f"{'corrupt':>7} {'order':>5}  seed"
    )
    lines = [header, "-" * len(header)]
    for entry in records:
        lines.append(
            f"{entry.fault:34} {entry.injected:>8} {entry.intents:>8} {entry.lost:>5} "
            f"{entry.applied_twice:>5} {entry.corrupt:>7} {entry.order_violations:>5}  "
            f"{entry.seed if entry.seed is not None else '-'}"
        )
        for key, value in entry.details.items():
            lines.append(f"    {key}: {value}")
    return lines


def write(records: list[FaultRecord], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(entry) for entry in records], indent=2, default=str) + "\n")
