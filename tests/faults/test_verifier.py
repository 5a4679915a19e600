"""The fault tests' verifier catches what it claims to: each kind of damage, made by hand to the
rows of a clean run, shows up in its verdict under the right heading."""

from __future__ import annotations

import asyncpg

from messages.outcomes import Rejected, RejectReason
from messages.settings import Settings
from tests.faults.harness.audit import install
from tests.faults.harness.run import new_workload, producer_settings, running_load
from tests.faults.harness.verify import verify
from tests.faults.harness.workload import Op, content, is_whole, rendered
from tests.faults.test_writer_crash import progress
from tests.pipeline import consuming, running_writer


def ops_of(ops: list[Op], package: str) -> list[Op]:
    return [op for op in ops if op.package == package and op.outcome is not None]


def test_a_whole_write_is_told_from_a_mix() -> None:
    assert is_whole("p", content("p", 3, "a"))
    assert is_whole("p", rendered(content("p", 3, "b")))
    mixed = {**content("p", 3), **{"step-1.yaml": "by: a\nstep: 4\n"}}
    assert not is_whole("p", mixed)
    assert not is_whole("p", {**content("p", 3), "cm.yaml": ""})
    assert not is_whole("p", {})


async def test_every_kind_of_damage_is_reported(settings: Settings, db: asyncpg.Connection) -> None:
    await install(settings.database_url)
    workload = new_workload("verifier", packages=6)
    async with running_writer(settings) as writer:
        await consuming(writer)
        async with running_load(producer_settings(settings), workload):
            await progress(workload, 60)
    assert not (await verify(db, workload)).problems  # a clean run is clean
    ns = workload.namespace
    lost_pkg, twice_pkg, order_pkg, corrupt_pkg, outcome_pkg, _ = workload.packages

    # Lost: a confirmed intent's log entry vanishes.
    victim = ops_of(workload.ops, lost_pkg)[-1]
    await db.execute("DELETE FROM intent_log WHERE intent_id = $1", victim.intent.intent_id)
    # Applied twice: a second write of a revision that no intent accounts for.
    await db.execute(
        "UPDATE package_revisions SET updated = updated + interval '1 microsecond' "
        "WHERE k8s_name_space = $1 AND k8s_name = $2",
        ns,
        f"{twice_pkg}.ws",
    )
    # Order: the client's sequence no longer matches the apply order.
    first, second = ops_of(workload.ops, order_pkg)[1:3]
    i, j = workload.ops.index(first), workload.ops.index(second)
    workload.ops[i], workload.ops[j] = second, first
    # Corrupt: a package no longer holds its last write.
    await db.execute(
        "UPDATE resources SET resource_value = '' "
        "WHERE k8s_name_space = $1 AND k8s_name = $2 AND resource_key = 'cm.yaml'",
        ns,
        f"{corrupt_pkg}.ws",
    )
    # Interleaved: two transactions writing one revision in turns.
    await db.execute(
        "INSERT INTO fault_audit (txid, tbl, op, namespace, revision) VALUES "
        "(1, 'resources', 'UPDATE', $1, 'ghost.ws'), (2, 'resources', 'UPDATE', $1, 'ghost.ws'), "
        "(1, 'resources', 'UPDATE', $1, 'ghost.ws')",
        ns,
    )
    # An outcome the producer saw that the log does not hold.
    seen = ops_of(workload.ops, outcome_pkg)[-1]
    seen.outcome = Rejected(
        intent_id=seen.intent.intent_id, reason=RejectReason.FORBIDDEN, message="x"
    )

    verdict = await verify(db, workload, mixed_reads=2)

    assert any(str(victim.intent.intent_id) in line for line in verdict.lost), verdict.lost
    assert any(twice_pkg in line for line in verdict.applied_twice), verdict.applied_twice
    assert any(order_pkg in line for line in verdict.order_violations), verdict.order_violations
    assert any(corrupt_pkg in line for line in verdict.corrupt), verdict.corrupt
    assert any("ghost.ws" in line and "again" in line for line in verdict.corrupt)
    assert any("2 read(s)" in line for line in verdict.corrupt)
    assert any(str(seen.intent.intent_id) in line for line in verdict.other), verdict.other
