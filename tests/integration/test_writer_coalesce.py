"""Coalescing: consecutive pushes to one revision in a batch are one write, yet every intent
gets its own version and outcome, and the batch ends exactly where applying its intents one
at a time would have ended."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import pytest

from messages.fields import Lifecycle
from messages.intents import Intent
from messages.outcomes import Applied, Conflict, Duplicate, Outcome, Stale
from tests.dbstate import pending_render, resource_xmins, resources_of, revision_row
from tests.factories import (
    NS,
    apply,
    apply_items,
    make_lifecycle,
    make_metadata,
    make_push,
    make_render,
    partition_for,
    sample_resources,
    setup_draft,
    to_item,
)
from writer.batch import apply_batch
from writer.rows import version_of


async def log_versions(db: asyncpg.Connection, intents: Sequence[Intent]) -> list[int]:
    records = await db.fetch(
        "SELECT intent_id, version FROM intent_log WHERE intent_id = ANY($1::uuid[])",
        [intent.intent_id for intent in intents],
    )
    by_id = {record["intent_id"]: record["version"] for record in records}
    return [by_id[intent.intent_id] for intent in intents]


async def test_consecutive_pushes_are_one_write_with_a_version_and_outcome_each(
    db: asyncpg.Connection,
) -> None:
    original = sample_resources(a__yaml="a: 0\n", b__yaml="b: 0\n", c__yaml="c: 0\n")
    start = await setup_draft(db, "pkg", "pkg-v1", original)
    before = await resource_xmins(db, NS, "pkg-v1")
    without_b = {**original, "a.yaml": "a: 1\n"}
    del without_b["b.yaml"]
    pushes = [
        make_push(NS, "pkg", "pkg-v1", without_b),
        make_push(NS, "pkg", "pkg-v1", {**original, "c.yaml": "c: 1\n"}, requests_render=True),
        make_push(NS, "pkg", "pkg-v1", {**original, "c.yaml": "c: 2\n"}),
    ]

    result = await apply_batch(db, partition_for(pushes[0]), [to_item(p) for p in pushes])

    assert result.coalesced == 2
    assert all(isinstance(outcome, Applied) for outcome in result.outcomes)
    versions = [
        outcome.version
        for outcome in result.outcomes
        if isinstance(outcome, Applied) and outcome.version is not None
    ]
    assert len(versions) == len(pushes)
    assert all(b > a for a, b in itertools.pairwise([start, *versions]))
    assert await log_versions(db, pushes) == versions
    row = await revision_row(db, NS, "pkg-v1")
    assert version_of(row["updated"]) == versions[-1]
    assert await resources_of(db, NS, "pkg-v1") == pushes[-1].resources
    assert await pending_render(db, NS, "pkg-v1") is None  # the last push cleared it
    # One diff from the first read to the last push: b.yaml, deleted and restored in between,
    # was never written, so its row is the one the create wrote.
    after = await resource_xmins(db, NS, "pkg-v1")
    assert after["b.yaml"] == before["b.yaml"]
    assert after["a.yaml"] == before["a.yaml"]
    assert after["c.yaml"] != before["c.yaml"]


async def test_interleaved_packages_each_coalesce_and_a_lifecycle_change_sees_the_pushes(
    db: asyncpg.Connection,
) -> None:
    await setup_draft(db, "one", "one-v1")
    await setup_draft(db, "two", "two-v1")
    intents: list[Intent] = [
        make_push(NS, "one", "one-v1", sample_resources(n__yaml="1"), requests_render=True),
        make_push(NS, "two", "two-v1", sample_resources(n__yaml="1")),
        make_push(NS, "one", "one-v1", sample_resources(n__yaml="2"), requests_render=True),
        make_push(NS, "two", "two-v1", sample_resources(n__yaml="2")),
        # Sees the pending render that the pushes before it set, although not yet written.
        make_lifecycle(NS, "one", "one-v1", Lifecycle.PROPOSED),
        make_lifecycle(NS, "two", "two-v1", Lifecycle.PROPOSED),
    ]

    result = await apply_batch(db, partition_for(intents[0]), [to_item(i) for i in intents])

    assert [outcome.status for outcome in result.outcomes] == ["applied"] * 4 + [
        "rejected",
        "applied",
    ]
    assert result.coalesced == 2
    pushed_last = result.outcomes[2]
    assert isinstance(pushed_last, Applied)
    assert await pending_render(db, NS, "one-v1") == pushed_last.version
    assert await resources_of(db, NS, "two-v1") == sample_resources(n__yaml="2")
    assert (await revision_row(db, NS, "two-v1"))["lifecycle"] == "Proposed"


async def test_the_intent_log_keeps_batch_order_when_writes_wait(
    db: asyncpg.Connection,
) -> None:
    await setup_draft(db, "one", "one-v1")
    await setup_draft(db, "two", "two-v1")
    intents = [
        make_push(NS, "one", "one-v1", sample_resources(n__yaml="1")),
        make_push(NS, "two", "two-v1", sample_resources(n__yaml="1")),
        make_push(NS, "one", "one-v1", sample_resources(n__yaml="2")),
    ]

    await apply(db, *intents)

    logged = await db.fetch(
        "SELECT intent_id FROM intent_log WHERE intent_id = ANY($1::uuid[]) ORDER BY seq",
        [intent.intent_id for intent in intents],
    )
    assert [record["intent_id"] for record in logged] == [i.intent_id for i in intents]


# The equivalence check: every sequence of three intents from this alphabet, applied as one
# batch to one revision and one at a time to another, must give the same outcomes (versions
# compared by which intent made them) and the same final revision.
Step = Callable[[str, str, int, list[Intent]], Intent]


def _push(n: int, **kw: Any) -> Step:
    return lambda pkg, rev, v0, done: make_push(
        NS, pkg, rev, sample_resources(n__yaml=str(n), **{f"k{n}__yaml": "x"}), **kw
    )


def _again(pkg: str, rev: str, v0: int, done: list[Intent]) -> Intent:
    return done[-1] if done else make_metadata(NS, pkg, rev, meta='{"again": 1}')


STEPS: dict[str, Step] = {
    "push": _push(1),
    "push_rendering": _push(2, requests_render=True),
    "push_expecting_v0": lambda pkg, rev, v0, done: _push(3, expected_version=v0)(
        pkg, rev, v0, done
    ),
    "render_of_v0": lambda pkg, rev, v0, done: make_render(
        NS, pkg, rev, sample_resources(rendered__yaml="r"), v0, kptfile_status='{"ok": true}'
    ),
    "propose": lambda pkg, rev, v0, done: make_lifecycle(NS, pkg, rev, Lifecycle.PROPOSED),
    "metadata": lambda pkg, rev, v0, done: make_metadata(NS, pkg, rev, meta='{"m": 1}'),
    "redelivery": _again,
}


def _build(names: Sequence[str], pkg: str, rev: str, v0: int) -> list[Intent]:
    intents: list[Intent] = []
    for name in names:
        intents.append(STEPS[name](pkg, rev, v0, intents))
    return intents


def _symbolic(outcome: Outcome, versions: dict[int, str]) -> tuple[Any, ...]:
    """The outcome with every version replaced by the name of the intent that made it."""
    if isinstance(outcome, Duplicate):
        return ("duplicate", _symbolic(outcome.original, versions))
    if isinstance(outcome, Applied):
        return ("applied", versions.get(outcome.version or -1, outcome.version))
    if isinstance(outcome, Conflict | Stale):
        return (outcome.status, versions.get(outcome.current_version, outcome.current_version))
    return (outcome.status, getattr(outcome, "reason", None))


async def _final_state(db: asyncpg.Connection, rev: str, versions: dict[int, str]) -> Any:
    row = await revision_row(db, NS, rev)
    pending = await pending_render(db, NS, rev)
    return (
        await resources_of(db, NS, rev),
        row["lifecycle"],
        row["kptfile_status"],
        row["resources_size"],
        row["meta"],
        versions.get(version_of(row["updated"])),
        None if pending is None else versions.get(pending, pending),
    )


def _names(outcomes: Sequence[Outcome], v0: int) -> dict[int, str]:
    names = {v0: "v0"}
    for position, outcome in enumerate(outcomes):
        if isinstance(outcome, Applied) and outcome.version is not None:
            names[outcome.version] = f"intent {position}"
    return names


SEQUENCES = list(itertools.product(sorted(STEPS), repeat=3))


@pytest.mark.parametrize("render_pending", [False, True], ids=["rendered", "render_pending"])
@pytest.mark.parametrize("chunk", range(7))
async def test_a_coalesced_batch_ends_where_one_at_a_time_ends(
    db: asyncpg.Connection, chunk: int, render_pending: bool
) -> None:
    folded = 0
    for number, names in enumerate(SEQUENCES[chunk::7]):
        batched_rev, single_rev = f"b{number}-v1", f"s{number}-v1"
        v_batched = await setup_draft(db, f"b{number}", batched_rev, requests_render=render_pending)
        v_single = await setup_draft(db, f"s{number}", single_rev, requests_render=render_pending)
        batched = _build(names, f"b{number}", batched_rev, v_batched)
        single = _build(names, f"s{number}", single_rev, v_single)

        result = await apply_batch(db, partition_for(batched[0]), [to_item(i) for i in batched])
        one_by_one = [(await apply_items(db, [to_item(intent)]))[0] for intent in single]

        folded += result.coalesced
        batched_names, single_names = (
            _names(result.outcomes, v_batched),
            _names(one_by_one, v_single),
        )
        assert [_symbolic(o, batched_names) for o in result.outcomes] == [
            _symbolic(o, single_names) for o in one_by_one
        ], names
        assert await _final_state(db, batched_rev, batched_names) == await _final_state(
            db, single_rev, single_names
        ), names
    assert folded > 0  # the alphabet does make runs


async def test_a_redelivery_of_a_waiting_push_answers_its_outcome(
    db: asyncpg.Connection,
) -> None:
    await setup_draft(db, "pkg", "pkg-v1")
    first = make_push(NS, "pkg", "pkg-v1", sample_resources(n__yaml="1"))
    second = make_push(NS, "pkg", "pkg-v1", sample_resources(n__yaml="2"))

    outcomes = await apply(db, first, second, first)

    applied_first = outcomes[0]
    assert isinstance(applied_first, Applied)
    assert outcomes[2] == Duplicate(intent_id=first.intent_id, original=applied_first)
    assert await resources_of(db, NS, "pkg-v1") == second.resources
