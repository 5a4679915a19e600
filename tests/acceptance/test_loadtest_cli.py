"""`porch-loadtest` as a user runs it: a subprocess, its own writer, its report and exit status."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from tests.services import ServiceUrls

pytestmark = pytest.mark.services

TINY = ["--packages", "6", "--resources", "6", "--actors", "3", "--hot", "3", "--intents", "150"]


def loadtest_command() -> list[str]:
    beside = Path(sys.executable).with_name("porch-loadtest")
    if beside.exists():
        return [str(beside)]
    return [sys.executable, "-c", "import sys; from loadtest.cli import main; sys.exit(main())"]


async def run_cli(
    *arguments: str, services: ServiceUrls, database_url: str, prefix: str
) -> tuple[int, str, str]:
    env = dict(os.environ)
    env.update(
        PORCH_DATABASE_URL=database_url,
        PORCH_AMQP_URL=services.amqp_url,
        PORCH_TOPOLOGY_PREFIX=prefix,
        PORCH_PARTITIONS="4",
    )
    process = await asyncio.create_subprocess_exec(
        *loadtest_command(),
        *arguments,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(120):
        stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_compare_runs_every_mode_and_reports(
    services: ServiceUrls, database_url: str, prefix: str, tmp_path: Path
) -> None:
    report = tmp_path / "compare.json"
    code, stdout, stderr = await run_cli(
        "--compare",
        *TINY,
        "--json",
        str(report),
        "--writer-log",
        str(tmp_path / "writers.log"),
        services=services,
        database_url=database_url,
        prefix=prefix,
    )
    assert code == 0, stdout + stderr
    document = json.loads(report.read_text(encoding="utf-8"))
    runs = {run["mode"]: run for run in document["compare"]}
    assert list(runs) == ["pipeline", "locked", "direct", "legacy"]
    for run in runs.values():
        for key in ("writes", "throughput_per_s", "outcomes", "corrupt_packages", "lost_intents"):
            assert key in run
        assert set(run["latency_ms"]) == {"p50", "p95", "p99", "max"}
        assert 147 <= run["writes"] <= 150  # the budget, less renders with nothing to do
    assert runs["pipeline"]["ok"]
    assert runs["pipeline"]["writer_problems"] == []
    assert runs["locked"]["ok"]
    assert "ratios to locked" in stdout
    assert "porch-loadtest  mode pipeline" in stdout
    assert document["ratios_to_locked"]["locked"]["throughput"] == 1.0


async def test_a_pipeline_run_writes_its_json(
    services: ServiceUrls, database_url: str, prefix: str, tmp_path: Path
) -> None:
    report = tmp_path / "pipeline.json"
    code, stdout, stderr = await run_cli(
        *TINY,
        "--writers",
        "2",
        "--json",
        str(report),
        services=services,
        database_url=database_url,
        prefix=prefix,
    )
    assert code == 0, stdout + stderr
    document = json.loads(report.read_text(encoding="utf-8"))
    assert document["mode"] == "pipeline"
    assert document["corrupt_packages"] == []
    assert document["lost_intents"] == []
    assert document["workload"]["writers"] == 2
    assert "RESULT      OK" in stdout
