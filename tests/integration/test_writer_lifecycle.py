"""Lifecycle changes, publishing and metadata: porch's rules, and no resource row touched."""

from __future__ import annotations

import asyncpg
import pytest

from messages.fields import Lifecycle
from messages.outcomes import Applied, Rejected, RejectReason
from tests.dbstate import all_resource_xmins, latest_of, resources_of, revision_row
from tests.factories import (
    NS,
    applied_version,
    apply,
    apply_one,
    make_external,
    make_lifecycle,
    make_metadata,
    make_placeholder,
    make_publish,
    make_repository,
    sample_resources,
    setup_draft,
)
from writer.apply.lifecycle import ALLOWED_TRANSITIONS

PKG = "pkg"
D, P, PUB, DP = (
    Lifecycle.DRAFT,
    Lifecycle.PROPOSED,
    Lifecycle.PUBLISHED,
    Lifecycle.DELETION_PROPOSED,
)


async def revision_in(db: asyncpg.Connection, lifecycle: Lifecycle, rev: str) -> None:
    """A revision of PKG brought to `lifecycle` the way porch gets there."""
    await setup_draft(db, PKG, rev)
    if lifecycle is D:
        return
    await applied_version(db, make_lifecycle(NS, PKG, rev, P))
    if lifecycle is P:
        return
    await applied_version(db, make_publish(NS, PKG, rev))
    if lifecycle is DP:
        await applied_version(db, make_lifecycle(NS, PKG, rev, DP))


@pytest.mark.parametrize("current", list(Lifecycle))
@pytest.mark.parametrize("target", list(Lifecycle))
async def test_lifecycle_transitions(
    db: asyncpg.Connection, current: Lifecycle, target: Lifecycle
) -> None:
    await revision_in(db, current, "pkg-v1")
    before = await revision_row(db, NS, "pkg-v1")

    outcome = await apply_one(db, make_lifecycle(NS, PKG, "pkg-v1", target))

    after = await revision_row(db, NS, "pkg-v1")
    if current is target or (current, target) in ALLOWED_TRANSITIONS:
        assert isinstance(outcome, Applied), outcome
        assert after["lifecycle"] == target.value
        assert after["updated"] > before["updated"]
    else:
        assert isinstance(outcome, Rejected), outcome
        assert outcome.reason is RejectReason.INVALID_TRANSITION
        assert current.value in outcome.message
        assert target.value in outcome.message
        assert after == before


def test_the_allowed_transitions_are_porchs() -> None:
    assert {(a.value, b.value) for a, b in ALLOWED_TRANSITIONS} == {
        ("Draft", "Proposed"),
        ("Proposed", "Draft"),
        ("Published", "DeletionProposed"),
        ("DeletionProposed", "Published"),
    }


async def test_proposing_waits_for_a_requested_render(db: asyncpg.Connection) -> None:
    await setup_draft(db, PKG, "pkg-v1", requests_render=True)

    outcome = await apply_one(db, make_lifecycle(NS, PKG, "pkg-v1", P))

    assert isinstance(outcome, Rejected)
    assert outcome.reason is RejectReason.RENDER_PENDING
    assert (await revision_row(db, NS, "pkg-v1"))["lifecycle"] == "Draft"


async def test_publish_numbers_revisions_and_moves_latest(db: asyncpg.Connection) -> None:
    numbers = []
    for n in (1, 2, 3):
        await revision_in(db, P, f"pkg-v{n}")
        outcome = await apply_one(db, make_publish(NS, PKG, f"pkg-v{n}"))
        assert isinstance(outcome, Applied)
        numbers.append(outcome.revision)
        assert await latest_of(db, NS, PKG) == [f"pkg-v{n}"]
        row = await revision_row(db, NS, f"pkg-v{n}")
        assert (row["lifecycle"], row["revision"]) == ("Published", n)

    assert numbers == [1, 2, 3]


async def test_publish_ignores_the_placeholder_and_keeps_one_latest_per_package(
    db: asyncpg.Connection,
) -> None:
    await apply(db, make_repository())
    await applied_version(db, make_placeholder(NS, PKG, "pkg-main"))
    await applied_version(db, make_placeholder(NS, "other", "other-main"))
    await applied_version(db, make_external(NS, "other", "other-v1", 1))
    await revision_in(db, P, "pkg-v1")

    outcome = await apply_one(db, make_publish(NS, PKG, "pkg-v1"))

    assert isinstance(outcome, Applied)
    assert outcome.revision == 1
    assert await latest_of(db, NS, PKG) == ["pkg-v1"]
    assert await latest_of(db, NS, "other") == ["other-v1"]


async def test_publish_without_a_kptfile_is_refused(db: asyncpg.Connection) -> None:
    await setup_draft(db, PKG, "pkg-v1", {"cm.yaml": "kind: ConfigMap\n"})
    await applied_version(db, make_lifecycle(NS, PKG, "pkg-v1", P))
    before = await revision_row(db, NS, "pkg-v1")

    outcome = await apply_one(db, make_publish(NS, PKG, "pkg-v1"))

    assert isinstance(outcome, Rejected)
    assert outcome.reason is RejectReason.KPTFILE_MISSING
    assert await revision_row(db, NS, "pkg-v1") == before


@pytest.mark.parametrize("lifecycle", [D, PUB, DP])
async def test_only_a_proposed_revision_is_published(
    db: asyncpg.Connection, lifecycle: Lifecycle
) -> None:
    await revision_in(db, lifecycle, "pkg-v1")

    outcome = await apply_one(db, make_publish(NS, PKG, "pkg-v1"))

    assert isinstance(outcome, Rejected)
    assert outcome.reason is RejectReason.INVALID_TRANSITION


async def test_metadata_set_changes_only_the_given_columns(db: asyncpg.Connection) -> None:
    await setup_draft(db, PKG, "pkg-v1", meta='{"m": 0}', spec='{"s": 0}', tasks="[]")

    await applied_version(
        db, make_metadata(NS, PKG, "pkg-v1", spec='{"s": 1}', kptfile_status='{"k": 1}')
    )

    row = await revision_row(db, NS, "pkg-v1")
    assert (row["meta"], row["spec"], row["tasks"], row["kptfile_status"]) == (
        '{"m": 0}',
        '{"s": 1}',
        "[]",
        '{"k": 1}',
    )


async def test_lifecycle_publish_and_metadata_never_touch_resources(
    db: asyncpg.Connection,
) -> None:
    resources = sample_resources(more__yaml="m: 1\n")
    await setup_draft(db, PKG, "pkg-v1", resources)
    await setup_draft(db, "neighbour", "neighbour-v1")
    before = await all_resource_xmins(db)

    await applied_version(db, make_metadata(NS, PKG, "pkg-v1", meta='{"a": 1}'))
    await applied_version(db, make_lifecycle(NS, PKG, "pkg-v1", P))
    await applied_version(db, make_lifecycle(NS, PKG, "pkg-v1", D))
    await applied_version(db, make_lifecycle(NS, PKG, "pkg-v1", P))
    await applied_version(db, make_publish(NS, PKG, "pkg-v1"))
    await applied_version(db, make_lifecycle(NS, PKG, "pkg-v1", DP))
    await applied_version(db, make_metadata(NS, PKG, "pkg-v1", tasks='[{"x": 1}]'))

    assert await all_resource_xmins(db) == before
    assert await resources_of(db, NS, "pkg-v1") == resources
