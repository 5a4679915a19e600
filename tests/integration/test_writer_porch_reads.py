"""Porch's own SELECTs, unchanged, against a database the writer filled."""

from __future__ import annotations

import asyncpg

from messages.fields import Lifecycle
from messages.intents import Intent
from tests.factories import (
    NS,
    SERVER_USER,
    apply,
    make_create,
    make_lifecycle,
    make_publish,
    make_push,
    make_repository,
    sample_resources,
)
from writer.rows import version_of

PKG_REV_READ = """
SELECT repositories.k8s_name_space, repositories.k8s_name, repositories.directory,
       repositories.default_ws_name, packages.k8s_name, packages.package_path,
       package_revisions.k8s_name, package_revisions.revision, package_revisions.meta,
       package_revisions.spec, package_revisions.updated, package_revisions.updatedby,
       package_revisions.lifecycle
FROM package_revisions
INNER JOIN packages
    ON package_revisions.k8s_name_space=packages.k8s_name_space
    AND package_revisions.package_k8s_name=packages.k8s_name
INNER JOIN repositories
    ON packages.k8s_name_space=repositories.k8s_name_space
    AND packages.repo_k8s_name=repositories.k8s_name
WHERE package_revisions.k8s_name_space=$1 AND package_revisions.k8s_name=$2
"""
PKG_REV_READ_ALL = """
SELECT * FROM package_revisions
INNER JOIN packages
    ON package_revisions.k8s_name_space=packages.k8s_name_space
    AND package_revisions.package_k8s_name=packages.k8s_name
INNER JOIN repositories
    ON packages.k8s_name_space=repositories.k8s_name_space
    AND packages.repo_k8s_name=repositories.k8s_name
WHERE package_revisions.k8s_name_space=$1 AND package_revisions.k8s_name=$2
"""
LATEST = """
SELECT k8s_name, revision FROM package_revisions
WHERE k8s_name_space=$1 AND package_k8s_name=$2 AND latest
"""
RESOURCES = (
    "SELECT resource_key, resource_value FROM resources WHERE k8s_name_space=$1 AND k8s_name=$2"
)
KPTFILE = (
    "SELECT resource_value FROM resources "
    "WHERE k8s_name_space=$1 AND k8s_name=$2 AND resource_key='Kptfile'"
)

V1 = sample_resources()
V2 = sample_resources(deploy__yaml="kind: Deployment\n")


async def fill(db: asyncpg.Connection) -> list[int | None]:
    """Two published revisions of one package; the second's resources pushed before."""
    intents: list[Intent] = [
        make_repository(directory="blueprints", default_ws_name="main"),
        make_create(NS, "pkg", "pkg-v1", V1, package_path="apps/pkg"),
        make_lifecycle(NS, "pkg", "pkg-v1", Lifecycle.PROPOSED),
        make_publish(NS, "pkg", "pkg-v1"),
        make_create(NS, "pkg", "pkg-v2", V1, package_path="apps/pkg"),
        make_push(NS, "pkg", "pkg-v2", V2),
        make_lifecycle(NS, "pkg", "pkg-v2", Lifecycle.PROPOSED),
        make_publish(NS, "pkg", "pkg-v2"),
    ]
    outcomes = await apply(db, *intents)
    assert [outcome.status for outcome in outcomes] == ["applied"] * len(intents), outcomes
    return [getattr(outcome, "version", None) for outcome in outcomes]


async def test_porch_reads_a_revision_with_its_package_and_repository(
    db: asyncpg.Connection,
) -> None:
    versions = await fill(db)

    row = await db.fetchrow(PKG_REV_READ, NS, "pkg-v2")

    assert row is not None
    assert tuple(row.values())[:10] == (
        NS,
        "repo",
        "blueprints",
        "main",
        "pkg",
        "apps/pkg",
        "pkg-v2",
        2,
        "{}",
        "{}",
    )
    assert version_of(row[10]) == versions[-1]
    assert (row[11], row[12]) == (SERVER_USER, "Published")
    every = await db.fetchrow(PKG_REV_READ_ALL, NS, "pkg-v2")
    assert every is not None
    assert every["latest"] is True
    assert every["resources_size"] == sum(len(v.encode()) for v in V2.values())


async def test_porch_reads_the_latest_revision_and_the_resources(db: asyncpg.Connection) -> None:
    await fill(db)

    assert [tuple(r.values()) for r in await db.fetch(LATEST, NS, "pkg")] == [("pkg-v2", 2)]
    v1 = {r["resource_key"]: r["resource_value"] for r in await db.fetch(RESOURCES, NS, "pkg-v1")}
    v2 = {r["resource_key"]: r["resource_value"] for r in await db.fetch(RESOURCES, NS, "pkg-v2")}
    assert (v1, v2) == (V1, V2)
    assert await db.fetchval(KPTFILE, NS, "pkg-v2") == V2["Kptfile"]
