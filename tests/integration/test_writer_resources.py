"""Pushes and render results: diff writes, compare-and-set, the render-pending rule."""

from __future__ import annotations

import itertools

import asyncpg

from messages.fields import Lifecycle
from messages.outcomes import Applied, Conflict, Stale
from tests.dbstate import pending_render, resource_xmins, resources_of, revision_row, snapshot
from tests.factories import (
    NS,
    RENDER_USER,
    applied_version,
    apply,
    apply_one,
    make_lifecycle,
    make_metadata,
    make_push,
    make_render,
    sample_resources,
    setup_draft,
)
from writer.rows import version_of

PKG, REV = "pkg", "pkg-v1"


async def test_a_push_writes_only_the_difference(db: asyncpg.Connection) -> None:
    original = sample_resources(keep__yaml="k: 1\n", change__yaml="c: 1\n", drop__yaml="d: 1\n")
    await setup_draft(db, PKG, REV, original)
    before = await resource_xmins(db, NS, REV)
    pushed = {
        "Kptfile": original["Kptfile"],
        "cm.yaml": original["cm.yaml"],
        "keep.yaml": "k: 1\n",
        "change.yaml": "c: 2\n",
        "new.yaml": "n: 1\n",
    }

    await applied_version(db, make_push(NS, PKG, REV, pushed))

    after = await resource_xmins(db, NS, REV)
    assert await resources_of(db, NS, REV) == pushed
    assert "drop.yaml" not in after
    for unchanged in ("Kptfile", "cm.yaml", "keep.yaml"):
        assert after[unchanged] == before[unchanged], unchanged
    assert after["change.yaml"] != before["change.yaml"]
    row = await revision_row(db, NS, REV)
    assert row["resources_size"] == sum(len(value.encode()) for value in pushed.values())


async def test_a_push_of_identical_resources_touches_no_resource_row(
    db: asyncpg.Connection,
) -> None:
    resources = sample_resources(utf8__yaml="name: 日本語\n")
    first = await setup_draft(db, PKG, REV, resources)
    before = await resource_xmins(db, NS, REV)

    second = await applied_version(db, make_push(NS, PKG, REV, resources))

    assert await resource_xmins(db, NS, REV) == before
    assert second > first  # the revision itself was written: a new version


async def test_a_push_to_an_empty_set_deletes_every_resource(db: asyncpg.Connection) -> None:
    await setup_draft(db, PKG, REV)

    await applied_version(db, make_push(NS, PKG, REV, {}))

    assert await resources_of(db, NS, REV) == {}
    assert (await revision_row(db, NS, REV))["resources_size"] == 0


async def test_push_with_the_current_expected_version_applies_and_an_old_one_conflicts(
    db: asyncpg.Connection,
) -> None:
    created = await setup_draft(db, PKG, REV)
    pushed = await applied_version(
        db, make_push(NS, PKG, REV, sample_resources(a__yaml="1"), expected_version=created)
    )
    before = await snapshot(db)

    outcome = await apply_one(
        db, make_push(NS, PKG, REV, sample_resources(a__yaml="2"), expected_version=created)
    )

    assert outcome == Conflict(
        intent_id=outcome.intent_id, expected_version=created, current_version=pushed
    )
    assert await snapshot(db) == before


async def test_a_render_of_the_current_version_applies_with_its_kptfile_status(
    db: asyncpg.Connection,
) -> None:
    base = await setup_draft(db, PKG, REV)
    rendered = sample_resources(rendered__yaml="r: 1\n")

    version = await applied_version(
        db, make_render(NS, PKG, REV, rendered, base, kptfile_status='{"conditions": []}')
    )

    row = await revision_row(db, NS, REV)
    assert await resources_of(db, NS, REV) == rendered
    assert row["kptfile_status"] == '{"conditions": []}'
    assert row["updatedby"] == RENDER_USER
    assert version_of(row["updated"]) == version > base


async def test_a_render_of_an_older_version_is_stale_and_writes_nothing(
    db: asyncpg.Connection,
) -> None:
    base = await setup_draft(db, PKG, REV)
    current = await applied_version(db, make_push(NS, PKG, REV, sample_resources(u__yaml="1")))
    before = await snapshot(db)

    outcome = await apply_one(db, make_render(NS, PKG, REV, sample_resources(r__yaml="1"), base))

    assert outcome == Stale(intent_id=outcome.intent_id, base_version=base, current_version=current)
    assert await snapshot(db) == before


async def test_a_metadata_change_also_makes_a_render_stale(db: asyncpg.Connection) -> None:
    base = await setup_draft(db, PKG, REV)
    await applied_version(db, make_metadata(NS, PKG, REV, meta='{"labels": {}}'))

    outcome = await apply_one(db, make_render(NS, PKG, REV, sample_resources(), base))

    assert isinstance(outcome, Stale)


async def test_render_pending_set_by_a_push_and_cleared_by_its_render(
    db: asyncpg.Connection,
) -> None:
    await setup_draft(db, PKG, REV)
    pushed = await applied_version(
        db, make_push(NS, PKG, REV, sample_resources(p__yaml="1"), requests_render=True)
    )
    assert await pending_render(db, NS, REV) == pushed

    await applied_version(db, make_render(NS, PKG, REV, sample_resources(r__yaml="1"), pushed))

    assert await pending_render(db, NS, REV) is None
    assert isinstance(
        await apply_one(db, make_lifecycle(NS, PKG, REV, Lifecycle.PROPOSED)), Applied
    )


async def test_a_push_without_a_render_request_clears_the_pending_render(
    db: asyncpg.Connection,
) -> None:
    await setup_draft(db, PKG, REV, requests_render=True)
    assert await pending_render(db, NS, REV) is not None

    await applied_version(db, make_push(NS, PKG, REV, sample_resources()))

    assert await pending_render(db, NS, REV) is None


async def test_versions_strictly_increase_within_one_batch(db: asyncpg.Connection) -> None:
    await setup_draft(db, PKG, REV)
    intents = [make_push(NS, PKG, REV, sample_resources(n__yaml=str(n))) for n in range(20)] + [
        make_metadata(NS, PKG, REV, meta=f'{{"n": {n}}}') for n in range(20)
    ]

    outcomes = await apply(db, *intents)

    versions = [o.version for o in outcomes if isinstance(o, Applied) and o.version is not None]
    assert len(versions) == len(intents)
    assert all(b > a for a, b in itertools.pairwise(versions))
    assert version_of((await revision_row(db, NS, REV))["updated"]) == versions[-1]
