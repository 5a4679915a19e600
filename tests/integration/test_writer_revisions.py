"""Creating and deleting revisions; the placeholder and external revisions."""

from __future__ import annotations

import asyncpg

from messages.fields import Lifecycle
from messages.outcomes import Applied, Rejected, RejectReason
from tests.dbstate import latest_of, pending_render, resources_of, revision_row
from tests.factories import (
    NS,
    SERVER_USER,
    applied_version,
    apply,
    apply_one,
    make_create,
    make_delete,
    make_external,
    make_lifecycle,
    make_placeholder,
    make_publish,
    make_repository,
    sample_resources,
    setup_draft,
)
from writer.rows import version_of


async def package_row(db: asyncpg.Connection, pkg: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT * FROM packages WHERE k8s_name_space = $1 AND k8s_name = $2", NS, pkg
    )


async def publish(db: asyncpg.Connection, pkg: str, rev: str) -> int:
    """Create, propose and publish a revision; its revision number."""
    await setup_draft(db, pkg, rev)
    await applied_version(db, make_lifecycle(NS, pkg, rev, Lifecycle.PROPOSED))
    outcome = await apply_one(db, make_publish(NS, pkg, rev))
    assert isinstance(outcome, Applied), outcome
    assert outcome.revision is not None
    return outcome.revision


async def test_create_inserts_package_revision_and_resources(db: asyncpg.Connection) -> None:
    resources = sample_resources(extra__yaml="kind: X\n", unicode__yaml="name: ünïcode\n")
    await apply(db, make_repository())

    version = await applied_version(
        db,
        make_create(NS, "pkg", "pkg-v1", resources, package_path="a/pkg", tasks='[{"t": 1}]'),
    )

    package = await package_row(db, "pkg")
    assert package is not None
    assert (package["repo_k8s_name"], package["package_path"], package["meta"]) == (
        "repo",
        "a/pkg",
        "{}",
    )
    row = await revision_row(db, NS, "pkg-v1")
    assert row["package_k8s_name"] == "pkg"
    assert (row["revision"], row["lifecycle"], row["latest"]) == (0, "Draft", False)
    assert (row["ext_pr_id"], row["tasks"], row["updatedby"]) == ("{}", '[{"t": 1}]', SERVER_USER)
    assert row["resources_size"] == sum(len(v.encode()) for v in resources.values())
    assert version_of(row["updated"]) == version
    assert await resources_of(db, NS, "pkg-v1") == resources
    assert await pending_render(db, NS, "pkg-v1") is None


async def test_create_proposed_with_render_request_records_the_pending_version(
    db: asyncpg.Connection,
) -> None:
    version = await setup_draft(
        db, "pkg", "pkg-v1", lifecycle=Lifecycle.PROPOSED, requests_render=True
    )

    assert (await revision_row(db, NS, "pkg-v1"))["lifecycle"] == "Proposed"
    assert await pending_render(db, NS, "pkg-v1") == version


async def test_a_second_revision_reuses_the_package_row(db: asyncpg.Connection) -> None:
    await setup_draft(db, "pkg", "pkg-v1")
    before = await package_row(db, "pkg")

    await setup_draft(db, "pkg", "pkg-v2")

    assert await package_row(db, "pkg") == before


async def test_delete_a_draft_and_its_package_row_with_the_last_revision(
    db: asyncpg.Connection,
) -> None:
    await setup_draft(db, "pkg", "pkg-v1")
    await setup_draft(db, "pkg", "pkg-v2")

    first = await apply_one(db, make_delete(NS, "pkg", "pkg-v1"))
    assert first == Applied(intent_id=first.intent_id, version=None)
    assert await package_row(db, "pkg") is not None

    await apply_one(db, make_delete(NS, "pkg", "pkg-v2"))
    assert await package_row(db, "pkg") is None
    assert await db.fetchval("SELECT count(*) FROM resources") == 0


async def test_a_published_revision_is_deleted_only_after_deletion_proposed(
    db: asyncpg.Connection,
) -> None:
    await publish(db, "pkg", "pkg-v1")

    refused = await apply_one(db, make_delete(NS, "pkg", "pkg-v1"))
    assert isinstance(refused, Rejected)
    assert refused.reason is RejectReason.INVALID_TRANSITION

    await applied_version(db, make_lifecycle(NS, "pkg", "pkg-v1", Lifecycle.DELETION_PROPOSED))
    assert isinstance(await apply_one(db, make_delete(NS, "pkg", "pkg-v1")), Applied)


async def test_deleting_the_latest_moves_latest_to_the_highest_remaining(
    db: asyncpg.Connection,
) -> None:
    assert [await publish(db, "pkg", f"pkg-v{n}") for n in (1, 2, 3)] == [1, 2, 3]
    assert await latest_of(db, NS, "pkg") == ["pkg-v3"]

    await applied_version(db, make_lifecycle(NS, "pkg", "pkg-v3", Lifecycle.DELETION_PROPOSED))
    assert await latest_of(db, NS, "pkg") == ["pkg-v3"]  # DeletionProposed stays latest
    await apply_one(db, make_delete(NS, "pkg", "pkg-v3"))

    assert await latest_of(db, NS, "pkg") == ["pkg-v2"]


async def test_the_placeholder_is_created_updated_as_a_diff_and_deleted_directly(
    db: asyncpg.Connection,
) -> None:
    await apply(db, make_repository())
    first = await applied_version(db, make_placeholder(NS, "pkg", "pkg-main"))
    row = await revision_row(db, NS, "pkg-main")
    assert (row["revision"], row["lifecycle"], row["latest"]) == (-1, "Published", False)

    new_resources = sample_resources(more__yaml="x: 1\n")
    second = await applied_version(
        db, make_placeholder(NS, "pkg", "pkg-main", new_resources, meta='{"m": 1}')
    )

    assert second > first
    assert await resources_of(db, NS, "pkg-main") == new_resources
    assert (await revision_row(db, NS, "pkg-main"))["meta"] == '{"m": 1}'
    assert isinstance(await apply_one(db, make_delete(NS, "pkg", "pkg-main")), Applied)
    assert await package_row(db, "pkg") is None


async def test_external_revisions_are_upserted_and_latest_recomputed(
    db: asyncpg.Connection,
) -> None:
    await apply(db, make_repository())
    await applied_version(db, make_external(NS, "pkg", "pkg-v2", 2, ext_pr_id='{"sha": "b"}'))
    await applied_version(db, make_external(NS, "pkg", "pkg-v1", 1))
    assert await latest_of(db, NS, "pkg") == ["pkg-v2"]
    row = await revision_row(db, NS, "pkg-v2")
    assert (row["revision"], row["lifecycle"], row["ext_pr_id"]) == (2, "Published", '{"sha": "b"}')

    outcome = await apply_one(db, make_external(NS, "pkg", "pkg-v3", 3))
    assert isinstance(outcome, Applied)
    assert outcome.revision == 3
    assert await latest_of(db, NS, "pkg") == ["pkg-v3"]

    # A local publish numbers after the external revisions.
    assert await publish(db, "pkg", "pkg-local") == 4
    assert await latest_of(db, NS, "pkg") == ["pkg-local"]
