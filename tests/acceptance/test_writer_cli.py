"""`porch-writer` as an operator runs it: migrate, configuration errors, partition ranges."""

from __future__ import annotations

import asyncio
import subprocess

import asyncpg
import pytest

from messages.settings import Settings
from tests.pipeline import environment, writer_command


async def run_cli(
    settings: Settings, *args: str, **overrides: object
) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [*writer_command(), *args],
        env=environment(settings, **overrides),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


async def drop_database(settings: Settings, name: str) -> None:
    admin = await asyncpg.connect(settings.database_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def test_migrate_creates_the_database_and_is_safe_to_rerun(settings: Settings) -> None:
    fresh = settings.database_url.rsplit("/", 1)[0] + "/" + settings.topology_prefix + "_fresh"
    first = await run_cli(settings, "migrate", database_url=fresh)
    assert first.returncode == 0, first.stderr
    assert "applied 3 migration(s)" in first.stdout
    again = await run_cli(settings, "migrate", database_url=fresh)
    assert again.returncode == 0, again.stderr
    assert "applied 0 migration(s)" in again.stdout
    await drop_database(settings, f"{settings.topology_prefix}_fresh")


async def test_two_migrations_at_once_both_succeed(settings: Settings) -> None:
    fresh = settings.database_url.rsplit("/", 1)[0] + "/" + settings.topology_prefix + "_race"
    results = await asyncio.gather(
        *(run_cli(settings, "migrate", database_url=fresh) for _ in range(3))
    )
    assert [result.returncode for result in results] == [0, 0, 0], [r.stderr for r in results]
    applied = sorted(last_line(result.stdout) for result in results)
    assert applied == ["applied 0 migration(s)", "applied 0 migration(s)", applied[2]]
    assert applied[2].startswith("applied 3 migration(s)")
    await drop_database(settings, f"{settings.topology_prefix}_race")


@pytest.mark.parametrize(
    ("variable", "value"),
    [("partitions", "lots"), ("amqp_url", "http://nope"), ("producer_roles", "{bad")],
)
async def test_a_bad_setting_stops_the_writer_naming_the_variable(
    settings: Settings, variable: str, value: str
) -> None:
    result = await run_cli(settings, "run", **{variable: value})
    assert result.returncode == 2
    assert f"PORCH_{variable.upper()}" in result.stderr


async def test_a_partition_range_outside_the_count_is_refused(settings: Settings) -> None:
    result = await run_cli(settings, "run", "--partitions", "2-9")
    assert result.returncode == 2
    assert "outside 0-3" in result.stderr


async def test_the_writer_refuses_an_unmigrated_database(settings: Settings) -> None:
    empty = settings.database_url.rsplit("/", 1)[0] + "/postgres"
    result = await run_cli(settings, "run", database_url=empty)
    assert result.returncode == 1
    assert "run `porch-writer migrate` first" in result.stderr
