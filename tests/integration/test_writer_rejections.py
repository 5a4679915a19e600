"""Every domain refusal: the right outcome, and not one row of porch's tables changed."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import pytest

from messages.fields import Lifecycle
from messages.intents import Intent
from messages.outcomes import Conflict, Rejected, RejectReason, Stale
from tests.dbstate import snapshot
from tests.factories import (
    NS,
    applied_version,
    apply,
    apply_one,
    make_create,
    make_delete,
    make_external,
    make_lifecycle,
    make_metadata,
    make_placeholder,
    make_publish,
    make_push,
    make_render,
    make_repository,
    make_repository_remove,
    make_repository_update,
    sample_resources,
    setup_draft,
)

R = RejectReason
RES = sample_resources()


async def build_state(db: asyncpg.Connection) -> None:
    """pkg-v1 Draft, pkg-v2 Proposed without a Kptfile, pub-v1 Published (latest),
    pend-v1 Draft waiting for a render, and a second repository."""
    await apply(db, make_repository(), make_repository(repo="repo2"))
    await setup_draft(db, "pkg", "pkg-v1")
    await setup_draft(db, "pkg", "pkg-v2", {"cm.yaml": "kind: ConfigMap\n"})
    await applied_version(db, make_lifecycle(NS, "pkg", "pkg-v2", Lifecycle.PROPOSED))
    await setup_draft(db, "pub", "pub-v1")
    await applied_version(db, make_lifecycle(NS, "pub", "pub-v1", Lifecycle.PROPOSED))
    await applied_version(db, make_publish(NS, "pub", "pub-v1"))
    await setup_draft(db, "pend", "pend-v1", requests_render=True)


REJECTIONS: dict[str, tuple[Callable[[], Intent], RejectReason]] = {
    "create-unknown-repo": (
        lambda: make_create(NS, "x", "x-v1", repository="nope"),
        R.UNKNOWN_REPOSITORY,
    ),
    "repo-update-unknown": (lambda: make_repository_update(repo="nope"), R.UNKNOWN_REPOSITORY),
    "repo-remove-unknown": (lambda: make_repository_remove(repo="nope"), R.UNKNOWN_REPOSITORY),
    "placeholder-unknown-repo": (
        lambda: make_placeholder(NS, "x", "x-main", repository="nope"),
        R.UNKNOWN_REPOSITORY,
    ),
    "external-unknown-repo": (
        lambda: make_external(NS, "x", "x-v1", 1, repository="nope"),
        R.UNKNOWN_REPOSITORY,
    ),
    "push-unknown": (lambda: make_push(NS, "pkg", "nope", RES), R.UNKNOWN_REVISION),
    "render-unknown": (lambda: make_render(NS, "pkg", "nope", RES, 1), R.UNKNOWN_REVISION),
    "lifecycle-unknown": (
        lambda: make_lifecycle(NS, "pkg", "nope", Lifecycle.PROPOSED),
        R.UNKNOWN_REVISION,
    ),
    "publish-unknown": (lambda: make_publish(NS, "pkg", "nope"), R.UNKNOWN_REVISION),
    "metadata-unknown": (lambda: make_metadata(NS, "pkg", "nope", meta="{}"), R.UNKNOWN_REVISION),
    "delete-unknown": (lambda: make_delete(NS, "pkg", "nope"), R.UNKNOWN_REVISION),
    "push-other-package": (lambda: make_push(NS, "pub", "pkg-v1", RES), R.UNKNOWN_REVISION),
    "delete-other-package": (lambda: make_delete(NS, "pub", "pkg-v1"), R.UNKNOWN_REVISION),
    "register-twice": (make_repository, R.ALREADY_EXISTS),
    "create-twice": (lambda: make_create(NS, "pkg", "pkg-v1"), R.ALREADY_EXISTS),
    "create-name-of-other-package": (lambda: make_create(NS, "pub", "pkg-v1"), R.ALREADY_EXISTS),
    "create-package-in-other-repo": (
        lambda: make_create(NS, "pkg", "pkg-v9", repository="repo2"),
        R.ALREADY_EXISTS,
    ),
    "push-published": (lambda: make_push(NS, "pub", "pub-v1", RES), R.NOT_DRAFT),
    "push-proposed": (lambda: make_push(NS, "pkg", "pkg-v2", RES), R.NOT_DRAFT),
    "render-published": (lambda: make_render(NS, "pub", "pub-v1", RES, 1), R.NOT_DRAFT),
    "lifecycle-to-published": (
        lambda: make_lifecycle(NS, "pkg", "pkg-v1", Lifecycle.PUBLISHED),
        R.INVALID_TRANSITION,
    ),
    "lifecycle-published-to-draft": (
        lambda: make_lifecycle(NS, "pub", "pub-v1", Lifecycle.DRAFT),
        R.INVALID_TRANSITION,
    ),
    "publish-draft": (lambda: make_publish(NS, "pkg", "pkg-v1"), R.INVALID_TRANSITION),
    "delete-published": (lambda: make_delete(NS, "pub", "pub-v1"), R.INVALID_TRANSITION),
    "placeholder-over-draft": (
        lambda: make_placeholder(NS, "pkg", "pkg-v1"),
        R.INVALID_TRANSITION,
    ),
    "external-over-draft": (lambda: make_external(NS, "pkg", "pkg-v1", 1), R.INVALID_TRANSITION),
    "external-renumbering": (
        lambda: make_external(NS, "pub", "pub-v1", 2),
        R.INVALID_TRANSITION,
    ),
    "propose-before-render": (
        lambda: make_lifecycle(NS, "pend", "pend-v1", Lifecycle.PROPOSED),
        R.RENDER_PENDING,
    ),
    "publish-without-kptfile": (lambda: make_publish(NS, "pkg", "pkg-v2"), R.KPTFILE_MISSING),
}


@pytest.mark.parametrize("case", list(REJECTIONS))
async def test_a_rejection_writes_nothing(db: asyncpg.Connection, case: str) -> None:
    build, reason = REJECTIONS[case]
    await build_state(db)
    before = await snapshot(db)

    outcome = await apply_one(db, build())

    assert isinstance(outcome, Rejected), outcome
    assert outcome.reason is reason, outcome.message
    assert outcome.message
    assert await snapshot(db) == before


REFUSALS: dict[str, Callable[[], Intent]] = {
    "render-stale": lambda: make_render(NS, "pkg", "pkg-v1", RES, 1),
    "push-conflict": lambda: make_push(NS, "pkg", "pkg-v1", RES, expected_version=1),
    "lifecycle-conflict": lambda: make_lifecycle(
        NS, "pkg", "pkg-v1", Lifecycle.PROPOSED, expected_version=1
    ),
    "publish-conflict": lambda: make_publish(NS, "pkg", "pkg-v2", expected_version=1),
    "metadata-conflict": lambda: make_metadata(NS, "pkg", "pkg-v1", meta="{}", expected_version=1),
    "delete-conflict": lambda: make_delete(NS, "pkg", "pkg-v1", expected_version=1),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_stale_and_conflict_write_nothing(db: asyncpg.Connection, case: str) -> None:
    await build_state(db)
    before = await snapshot(db)

    outcome = await apply_one(db, REFUSALS[case]())

    assert isinstance(outcome, Stale if case == "render-stale" else Conflict), outcome
    assert await snapshot(db) == before
