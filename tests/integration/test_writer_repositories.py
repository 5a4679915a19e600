"""Repository intents: register, update, remove (cascading), with their versions."""

from __future__ import annotations

import asyncpg

from messages.outcomes import Applied, Rejected, RejectReason
from tests.dbstate import snapshot
from tests.factories import (
    NS,
    REPO,
    SERVER_USER,
    applied_version,
    apply_one,
    make_repository,
    make_repository_remove,
    make_repository_update,
    setup_draft,
)
from writer.rows import version_of


async def repository(db: asyncpg.Connection, name: str = REPO) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT * FROM repositories WHERE k8s_name_space = $1 AND k8s_name = $2", NS, name
    )


async def test_register_inserts_the_repository(db: asyncpg.Connection) -> None:
    intent = make_repository(
        directory="blueprints", default_ws_name="main", meta='{"a": 1}', deployment=True
    )

    version = await applied_version(db, intent)

    row = await repository(db)
    assert row is not None
    assert (row["directory"], row["default_ws_name"], row["meta"], row["spec"]) == (
        "blueprints",
        "main",
        '{"a": 1}',
        "{}",
    )
    assert row["deployment"] is True
    assert row["updatedby"] == SERVER_USER
    assert version_of(row["updated"]) == version


async def test_register_twice_is_already_exists_and_changes_nothing(db: asyncpg.Connection) -> None:
    await applied_version(db, make_repository())
    before = await snapshot(db)

    outcome = await apply_one(db, make_repository(directory="other"))

    assert isinstance(outcome, Rejected)
    assert outcome.reason is RejectReason.ALREADY_EXISTS
    assert await snapshot(db) == before


async def test_update_sets_meta_spec_deployment_and_moves_the_version(
    db: asyncpg.Connection,
) -> None:
    first = await applied_version(db, make_repository(directory="d"))

    second = await applied_version(
        db, make_repository_update(meta='{"m": 2}', spec='{"s": 2}', deployment=True)
    )

    row = await repository(db)
    assert row is not None
    assert (row["meta"], row["spec"], row["deployment"], row["directory"]) == (
        '{"m": 2}',
        '{"s": 2}',
        True,
        "d",
    )
    assert second > first
    assert version_of(row["updated"]) == second


async def test_update_and_remove_of_an_unknown_repository_are_rejected(
    db: asyncpg.Connection,
) -> None:
    for intent in (make_repository_update(repo="nope"), make_repository_remove(repo="nope")):
        outcome = await apply_one(db, intent)
        assert isinstance(outcome, Rejected)
        assert outcome.reason is RejectReason.UNKNOWN_REPOSITORY


async def test_remove_cascades_to_packages_revisions_and_resources(db: asyncpg.Connection) -> None:
    await setup_draft(db, "pkg", "pkg-v1", requests_render=True)

    outcome = await apply_one(db, make_repository_remove())

    assert outcome == Applied(intent_id=outcome.intent_id, version=None)
    state = await snapshot(db)
    assert all(rows == [] for rows in state.values()), state
