"""After a fault run: was every confirmed intent applied exactly once, in order, and is every
package whole? Judged from the intent log, the write audit and the final rows, against the
ledger of what the producers saw.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg

from loadtest.runner import RunOutcome
from messages.outcomes import FINAL_OUTCOME_ADAPTER, FinalOutcome
from tests.dbstate import resources_of
from tests.faults.harness import report
from tests.faults.harness.audit import AuditRow, audit_rows
from tests.faults.harness.loadtest_load import figures
from tests.faults.harness.workload import Op, Workload, revision_of
from writer.rows import version_of

REVISION_WRITES = ("revision_create", "resources_update", "render_result")


@dataclass(frozen=True)
class LogRow:
    intent_id: UUID
    seq: int
    revision: str | None
    kind: str | None
    status: str
    version: int | None
    txid: int
    outcome: FinalOutcome


@dataclass
class Verdict:
    lost: list[str] = field(default_factory=list)
    applied_twice: list[str] = field(default_factory=list)
    order_violations: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)
    extra_intents: int = 0
    """Intents of a second load (the load test) included in this verdict."""

    @property
    def problems(self) -> list[str]:
        return [
            *self.lost,
            *self.applied_twice,
            *self.order_violations,
            *self.corrupt,
            *self.other,
        ]

    def include(self, loadtest: RunOutcome | None) -> None:
        """Add the load test's own verdict (a second load of the same run) to this one."""
        if loadtest is None:
            return
        checked = loadtest.verification
        self.lost += [f"load test: confirmed intent {intent} lost" for intent in checked.lost]
        self.applied_twice += [f"load test: {line}" for line in checked.applied_twice]
        self.corrupt += [f"load test: {c.revision}: {c.problems}" for c in checked.corrupt]
        self.other += [f"load test: outcome mismatch: {line}" for line in checked.mismatched]
        self.counts.update(figures(loadtest))
        self.extra_intents += sum(loadtest.stats.outcomes.values())

    def record(
        self, fault: str, *, injected: int, intents: int, seed: int | None, details: dict[str, Any]
    ) -> None:
        """Enter this verdict in the fault report (the table of docs/RELIABILITY.md)."""
        report.record(
            report.FaultRecord(
                fault=fault,
                injected=injected,
                intents=intents + self.extra_intents,
                lost=len(self.lost),
                applied_twice=len(self.applied_twice),
                corrupt=len(self.corrupt),
                order_violations=len(self.order_violations),
                seed=seed,
                details={**details, **self.counts},
            )
        )

    def assert_clean(self) -> None:
        problems = self.problems
        shown = "\n  ".join(problems[:40])
        assert not problems, f"{len(problems)} problem(s):\n  {shown}\ncounts: {self.counts}"


async def log_rows(db: asyncpg.Connection, namespace: str) -> dict[UUID, LogRow]:
    records = await db.fetch(
        "SELECT intent_id, seq, revision_name, kind, status, version, txid, outcome "
        "FROM intent_log WHERE namespace = $1 ORDER BY seq",
        namespace,
    )
    return {
        record["intent_id"]: LogRow(
            intent_id=record["intent_id"],
            seq=record["seq"],
            revision=record["revision_name"],
            kind=record["kind"],
            status=record["status"],
            version=record["version"],
            txid=record["txid"],
            outcome=FINAL_OUTCOME_ADAPTER.validate_json(record["outcome"]),
        )
        for record in records
    }


async def verify(db: asyncpg.Connection, *workloads: Workload, mixed_reads: int = 0) -> Verdict:
    """Judge one or more workloads that wrote the same namespace (and maybe the same packages)."""
    verdict = Verdict()
    namespace = workloads[0].namespace
    log = await log_rows(db, namespace)
    audit = await audit_rows(db, namespace)
    ops = [op for workload in workloads for op in workload.ops]
    for workload in workloads:
        _check_ops(verdict, workload, log)
        _check_order(verdict, workload, log)
    _check_effects(verdict, log, audit)
    _check_serial(verdict, audit)
    await _check_final(verdict, db, namespace, ops, log)
    if mixed_reads:
        verdict.corrupt.append(f"{mixed_reads} read(s) saw a package that was not one whole write")
    for workload in workloads:
        verdict.other += [f"late producer call: {late}" for late in workload.late_calls]
        verdict.other += [f"unexpected producer error: {error}" for error in workload.unexpected]
    dead = await db.fetchval("SELECT count(*) FROM dead_letters")
    if dead:
        verdict.other.append(f"{dead} intent(s) were dead-lettered")
    summaries = [workload.summary() for workload in workloads]
    verdict.counts = {
        **(summaries[0] if len(summaries) == 1 else {"clients": summaries}),
        "logged": len(log),
        "applied": sum(row.status == "applied" for row in log.values()),
        "revision_writes_audited": sum(row.table == "package_revisions" for row in audit),
    }
    return verdict


def _check_ops(verdict: Verdict, workload: Workload, log: dict[UUID, LogRow]) -> None:
    # Chained clients write compare-and-set on their previous write: anything but `applied` is
    # a write skipped, repeated or reordered. Racing clients may see their renders go stale.
    allowed = {"applied"} if workload.chained else {"applied", "stale"}
    for op in workload.ops:
        intent_id = op.intent.intent_id
        row = log.get(intent_id)
        label = f"{op.intent.kind} {intent_id} ({op.package or 'repository'})"
        if row is None:
            if op.confirmed:
                verdict.lost.append(f"confirmed {label} has no intent-log entry")
            continue
        if op.outcome is None:
            if op.confirmed:
                verdict.other.append(f"confirmed {label} never got its outcome ({op.errors})")
            continue
        if op.outcome != row.outcome:
            verdict.other.append(f"{label}: producer saw {op.outcome}, the log holds {row.outcome}")
        if op.outcome.status not in allowed:
            verdict.other.append(f"{label} was not applied: {op.outcome}")


def _check_effects(verdict: Verdict, log: dict[UUID, LogRow], audit: list[AuditRow]) -> None:
    """Exactly one revision write per applied intent, in the transaction that logged it."""
    writes: dict[str, list[AuditRow]] = defaultdict(list)
    for row in audit:
        if row.table == "package_revisions" and row.op in ("INSERT", "UPDATE"):
            writes[row.revision].append(row)
    applied: dict[str, list[LogRow]] = defaultdict(list)
    for entry in log.values():
        if entry.status == "applied" and entry.kind in REVISION_WRITES and entry.revision:
            applied[entry.revision].append(entry)
    for revision in sorted(set(writes) | set(applied)):
        by_version = {row.version: row for row in writes[revision]}
        logged_versions = set()
        for entry in applied[revision]:
            logged_versions.add(entry.version)
            effect = by_version.get(entry.version)
            if effect is None:
                verdict.lost.append(f"applied {entry.kind} {entry.intent_id} left no write")
            elif effect.txid != entry.txid:
                verdict.corrupt.append(
                    f"{entry.intent_id}: effect in transaction {effect.txid}, "
                    f"logged in {entry.txid}"
                )
        extra = [row for row in writes[revision] if row.version not in logged_versions]
        for row in extra:
            verdict.applied_twice.append(
                f"{revision}: a write (version {row.version}, tx {row.txid}) of no logged intent"
            )


def _check_serial(verdict: Verdict, audit: list[AuditRow]) -> None:
    """No two transactions ever wrote the same revision interleaved (guarantee 1)."""
    finished: dict[str, set[int]] = defaultdict(set)
    current: dict[str, int] = {}
    for row in audit:
        previous = current.get(row.revision)
        if previous == row.txid:
            continue
        if row.txid in finished[row.revision]:
            verdict.corrupt.append(
                f"{row.revision}: transaction {row.txid} wrote it again after {previous} did"
            )
        if previous is not None:
            finished[row.revision].add(previous)
        current[row.revision] = row.txid


def _check_order(verdict: Verdict, workload: Workload, log: dict[UUID, LogRow]) -> None:
    """Each package's intents were applied in the order its client sent them."""
    by_package: dict[str, list[int]] = defaultdict(list)
    for op in workload.ops:
        row = log.get(op.intent.intent_id)
        if op.package and row is not None:
            by_package[op.package].append(row.seq)
    for package, seqs in by_package.items():
        for earlier, later in itertools.pairwise(seqs):
            if later < earlier:
                verdict.order_violations.append(
                    f"{package}: intent logged at seq {later} after one sent later (seq {earlier})"
                )


async def _check_final(
    verdict: Verdict,
    db: asyncpg.Connection,
    namespace: str,
    ops: list[Op],
    log: dict[UUID, LogRow],
) -> None:
    """Each package holds exactly what its last applied write wrote."""
    last: dict[str, tuple[LogRow, Op]] = {}
    for op in ops:
        row = log.get(op.intent.intent_id)
        if not op.package or row is None or row.status != "applied":
            continue
        if op.package not in last or row.seq > last[op.package][0].seq:
            last[op.package] = (row, op)
    for package in sorted({op.package for op in ops if op.package}):
        revision = revision_of(package)
        found = await resources_of(db, namespace, revision)
        if package not in last:
            verdict.corrupt.append(f"{package}: no applied write at all")
            continue
        row, op = last[package]
        if found != op.resources:
            verdict.corrupt.append(
                f"{package}: holds {found}, its last applied write was {op.resources}"
            )
        updated = await db.fetchval(
            "SELECT updated FROM package_revisions WHERE k8s_name_space = $1 AND k8s_name = $2",
            namespace,
            revision,
        )
        if updated is None or version_of(updated) != row.version:
            verdict.corrupt.append(
                f"{package}: version {updated} is not the last applied {row.version}"
            )
