"""The migrations reach schema.sql exactly, are idempotent, and tolerate concurrent runs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from tests.services import ServiceUrls, database_url_named
from writer.migrations import load_migrations, migrate
from writer.queries import sql_text

CATALOG_QUERIES = {
    "tables": """
        SELECT tablename FROM pg_tables
        WHERE schemaname = 'public' AND tablename <> 'schema_migrations' ORDER BY 1
    """,
    "columns": """
        SELECT table_name, ordinal_position, column_name, data_type, is_nullable,
               column_default, is_identity, identity_generation
        FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name <> 'schema_migrations'
        ORDER BY table_name, ordinal_position
    """,
    "constraints": """
        SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)
        FROM pg_constraint
        WHERE connamespace = 'public'::regnamespace
          AND conrelid <> 'schema_migrations'::regclass
        ORDER BY 1, 2
    """,
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename <> 'schema_migrations'
        ORDER BY 1, 2
    """,
}


async def catalog(url: str) -> dict[str, list[tuple[Any, ...]]]:
    connection = await asyncpg.connect(url)
    try:
        return {
            name: [tuple(record.values()) for record in await connection.fetch(query)]
            for name, query in CATALOG_QUERIES.items()
        }
    finally:
        await connection.close()


@pytest.fixture
async def fresh_url(services: ServiceUrls) -> AsyncIterator[str]:
    """The URL of a database that does not exist yet; dropped afterwards."""
    name = f"porch_m_{uuid.uuid4().hex[:12]}"
    yield database_url_named(services.database_url, name)
    admin = await asyncpg.connect(database_url_named(services.database_url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def test_migrations_produce_exactly_the_schema(database_url: str, fresh_url: str) -> None:
    admin = await asyncpg.connect(database_url_named(fresh_url, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{fresh_url.rsplit("/", 1)[1]}"')
    finally:
        await admin.close()
    connection = await asyncpg.connect(fresh_url)
    try:
        await connection.execute(sql_text("schema.sql"))
    finally:
        await connection.close()

    from_migrations, from_schema = await catalog(database_url), await catalog(fresh_url)

    assert from_migrations["tables"] == [
        ("dead_letters",),
        ("intent_log",),
        ("package_revisions",),
        ("packages",),
        ("repositories",),
        ("resources",),
        ("revision_render_state",),
    ]
    for name in CATALOG_QUERIES:
        assert from_migrations[name] == from_schema[name], name


async def test_migrate_creates_the_database_and_a_second_run_is_a_no_op(fresh_url: str) -> None:
    every = [migration.name for migration in load_migrations()]

    assert await migrate(fresh_url) == every
    before = await catalog(fresh_url)
    assert await migrate(fresh_url) == []
    assert await catalog(fresh_url) == before


async def test_two_concurrent_migrations_both_succeed_and_apply_once(fresh_url: str) -> None:
    every = [migration.name for migration in load_migrations()]

    first, second = await asyncio.gather(migrate(fresh_url), migrate(fresh_url))

    assert sorted([first, second]) == [[], every]
    connection = await asyncpg.connect(fresh_url)
    try:
        versions = await connection.fetch("SELECT version FROM schema_migrations ORDER BY 1")
    finally:
        await connection.close()
    assert [record["version"] for record in versions] == list(range(1, len(every) + 1))


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    migrations = load_migrations()
    assert [migration.version for migration in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "0001_porch_cache"
