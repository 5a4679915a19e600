"""Fault tests: a seeded random source per test, and the run's fault table at the end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.faults.harness import report
from tests.faults.harness.rounds import fault_seed, seeded_rng


class FaultRandom:
    """The test's random moments; its seed is printed so a failure can be replayed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = seeded_rng(seed)


@pytest.fixture
def fault_random() -> FaultRandom:
    seed = fault_seed()
    print(f"fault seed: PORCH_FAULT_SEED={seed}")
    return FaultRandom(seed)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not report.RECORDS:
        return
    terminalreporter.section("faults injected and what they cost")
    for line in report.table(report.RECORDS):
        terminalreporter.write_line(line)
    target = os.environ.get("PORCH_FAULT_REPORT")
    if target:
        report.write(report.RECORDS, Path(target))
        terminalreporter.write_line(f"written to {target}")
