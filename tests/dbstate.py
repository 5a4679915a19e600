"""Read the database as tests check it: whole-table snapshots, row xmins, single rows.

This SQL is the tests' own view (porch's reads and catalog probes), not the writer's.
"""

from __future__ import annotations

from typing import Any

import asyncpg

PORCH_TABLES = ("repositories", "packages", "package_revisions", "resources")
STATE_TABLES = (*PORCH_TABLES, "revision_render_state")


async def snapshot(db: asyncpg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every porch table and the render state, with its xmin (so a rewrite of
    an identical value shows too), in a stable order."""
    state: dict[str, list[tuple[Any, ...]]] = {}
    for table in STATE_TABLES:
        records = await db.fetch(f"SELECT xmin::text AS xmin, * FROM {table}")
        state[table] = sorted(tuple(record.values()) for record in records)
    return state


async def resource_xmins(db: asyncpg.Connection, ns: str, rev: str) -> dict[str, str]:
    records = await db.fetch(
        "SELECT resource_key, xmin::text AS xmin FROM resources "
        "WHERE k8s_name_space = $1 AND k8s_name = $2",
        ns,
        rev,
    )
    return {record["resource_key"]: record["xmin"] for record in records}


async def all_resource_xmins(db: asyncpg.Connection) -> dict[tuple[str, str, str], str]:
    records = await db.fetch(
        "SELECT k8s_name_space, k8s_name, resource_key, xmin::text AS xmin FROM resources"
    )
    return {
        (record["k8s_name_space"], record["k8s_name"], record["resource_key"]): record["xmin"]
        for record in records
    }


async def resources_of(db: asyncpg.Connection, ns: str, rev: str) -> dict[str, str]:
    """porch's read of a revision's resources."""
    records = await db.fetch(
        "SELECT resource_key, resource_value FROM resources "
        "WHERE k8s_name_space=$1 AND k8s_name=$2",
        ns,
        rev,
    )
    return {record["resource_key"]: record["resource_value"] for record in records}


async def revision_row(db: asyncpg.Connection, ns: str, rev: str) -> asyncpg.Record:
    record = await db.fetchrow(
        "SELECT * FROM package_revisions WHERE k8s_name_space = $1 AND k8s_name = $2", ns, rev
    )
    assert record is not None, f"no revision {ns}/{rev}"
    return record


async def latest_of(db: asyncpg.Connection, ns: str, pkg: str) -> list[str]:
    records = await db.fetch(
        "SELECT k8s_name FROM package_revisions "
        "WHERE k8s_name_space = $1 AND package_k8s_name = $2 AND latest",
        ns,
        pkg,
    )
    return [record["k8s_name"] for record in records]


async def pending_render(db: asyncpg.Connection, ns: str, rev: str) -> int | None:
    value: int | None = await db.fetchval(
        "SELECT pending_version FROM revision_render_state "
        "WHERE k8s_name_space = $1 AND k8s_name = $2",
        ns,
        rev,
    )
    return value
