"""What the load test hands its writer subprocesses: the partition shares and the settings."""

from __future__ import annotations

import pytest

from loadtest.writers_process import partition_ranges, writer_command, writer_environment
from messages.settings import ENV_PREFIX, load_settings


def test_partitions_are_split_between_writers() -> None:
    assert partition_ranges(16, 1) == ["0-15"]
    assert partition_ranges(16, 3) == ["0-4", "5-9", "10-15"]
    assert partition_ranges(4, 4) == ["0-0", "1-1", "2-2", "3-3"]
    with pytest.raises(ValueError, match="--writers"):
        partition_ranges(2, 3)


def test_the_writers_get_the_runs_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORCH_LOG_LEVEL", raising=False)
    settings = load_settings(
        partitions=4,
        topology_prefix="lt-test",
        batch_wait_ms=0.5,
        producer_roles={"guest": ["server", "render"]},
    )
    env = writer_environment(settings)
    for name, value in env.items():
        if name.startswith(ENV_PREFIX):
            monkeypatch.setenv(name, value)
    seen = load_settings()
    assert seen.model_dump(exclude={"log_level", "log_format"}) == settings.model_dump(
        exclude={"log_level", "log_format"}
    )
    assert env["PORCH_LOG_LEVEL"] == "warning"  # unless the environment says otherwise


def test_an_explicit_log_level_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORCH_LOG_LEVEL", "debug")
    assert writer_environment(load_settings())["PORCH_LOG_LEVEL"] == "debug"


def test_the_writer_command_is_found() -> None:
    command = writer_command()
    assert command[0].endswith("porch-writer") or "writer.cli" in command[-1]
