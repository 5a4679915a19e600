"""The report's JSON keys, its table, the comparison, the exit status and the CLI's flags."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from loadtest import cli
from loadtest.ledger import Status, WriteKind
from loadtest.modes import Mode
from loadtest.report import as_dict, batch_summary, compare_document, render_compare, render_table
from loadtest.runner import RunConfig, RunOutcome
from loadtest.stats import Stats, percentile, summary_ms
from loadtest.verify import Corruption, Verification
from loadtest.workload import Names, WorkloadSpec


def outcome(mode: Mode, *, applied: int = 90, corrupt: int = 0, lost: int = 0) -> RunOutcome:
    stats = Stats(started=1.0, finished=11.0)
    for index in range(100):
        status = Status.APPLIED if index < applied else Status.STALE
        stats.observe(WriteKind.PUSH, status, (index + 1) / 1000)
    check = Verification(
        revisions_checked=10,
        corrupt=[
            Corruption(f"lt-repo.pkg-{i:04d}.v1", ("Kptfile missing",)) for i in range(corrupt)
        ],
        lost=[uuid.uuid4() for _ in range(lost)],
    )
    return RunOutcome(
        mode=mode,
        names=Names("lt-test"),
        config=RunConfig(spec=WorkloadSpec()),
        partitions=16,
        stats=stats,
        verification=check,
        setup_s=0.5,
        dropped_slots=0,
    )


def test_the_json_has_the_documented_keys() -> None:
    report = as_dict(outcome(Mode.PIPELINE))
    for key in ("mode", "writes", "throughput_per_s", "latency_ms", "outcomes"):
        assert key in report
    assert report["corrupt_packages"] == []
    assert report["lost_intents"] == []
    assert set(report["latency_ms"]) >= {"p50", "p95", "p99", "max"}
    assert report["writes"] == 100
    assert report["throughput_per_s"] == 9.0
    assert report["latency_ms"]["p50"] == 50.0
    assert report["latency_ms"]["max"] == 100.0
    assert report["outcomes"]["applied"] == 90
    assert report["outcomes"]["stale"] == 10
    assert report["ok"]
    json.dumps(report)


def test_corrupt_and_lost_are_named() -> None:
    report = as_dict(outcome(Mode.PIPELINE, corrupt=2, lost=1))
    assert not report["ok"]
    assert report["corrupt_packages"][1] == {
        "revision": "lt-repo.pkg-0001.v1",
        "problems": ["Kptfile missing"],
    }
    table = render_table(report)
    assert "CORRUPT lt-repo.pkg-0000.v1: Kptfile missing" in table
    assert f"LOST intent {report['lost_intents'][0]}" in table
    assert "RESULT      FAILED" in table


def test_the_comparison_shows_ratios_to_locked() -> None:
    reports = [
        as_dict(outcome(Mode.PIPELINE, applied=90)),
        as_dict(outcome(Mode.LOCKED, applied=60)),
        as_dict(outcome(Mode.LEGACY, applied=30, corrupt=3)),
    ]
    text = render_compare(reports)
    assert "9.0 (1.50x)" in text
    assert "3.0 (0.50x)" in text
    document = compare_document(reports)
    assert document["ratios_to_locked"]["pipeline"]["throughput"] == 1.5


def test_exit_status_judges_pipeline_and_locked_in_a_comparison() -> None:
    clean = [as_dict(outcome(Mode.PIPELINE)), as_dict(outcome(Mode.LOCKED))]
    legacy = as_dict(outcome(Mode.LEGACY, corrupt=5))
    assert cli.exit_status([*clean, legacy], compare=True) == 0
    assert cli.exit_status([legacy], compare=False) == 1
    broken = as_dict(outcome(Mode.PIPELINE, lost=1))
    assert cli.exit_status([broken, clean[1]], compare=True) == 1


def test_batch_sizes_summary() -> None:
    assert batch_summary(None)["available"] is False
    summary = batch_summary([1, 1, 2, 5, 40, 100])
    assert summary["transactions"] == 6
    assert summary["intents"] == 149
    assert summary["max"] == 100
    assert summary["histogram"] == {"1": 2, "2-4": 1, "5-16": 1, "17-64": 1, "65+": 1}


def test_percentiles() -> None:
    ordered = [float(value) for value in range(1, 101)]
    assert percentile(ordered, 50) == 50.0
    assert percentile(ordered, 99) == 99.0
    assert percentile([], 99) == 0.0
    assert summary_ms([0.001, 0.002]) == {"p50": 1.0, "p95": 2.0, "p99": 2.0, "max": 2.0}


def test_flags_become_a_run_config() -> None:
    args = cli.build_parser().parse_args(
        ["--packages", "10", "--resources", "5", "--actors", "3", "--intents", "50"]
    )
    config = cli.config_from(args)
    assert config.spec.shape.packages == 10
    assert (config.spec.server_actors, config.spec.render_actors) == (3, 3)
    assert config.intents == 50
    assert config.duration is None
    assert cli.config_from(cli.build_parser().parse_args([])).duration == 20.0


def test_bad_flags_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(["--rate", "-3"])
    assert raised.value.code == 2
    assert cli.main(["--resources", "1", "--json", str(tmp_path / "x.json")]) == 2
    assert "at least two resources" in capsys.readouterr().err
