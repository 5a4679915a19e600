"""One transaction per batch of intents of one partition: lock, deduplicate, apply, record.

The fast path applies the whole batch without savepoints, and folds consecutive pushes to one
revision into one write (writer.coalesce). When the database refuses one intent's data (a
constraint, invalid text), the transaction rolls back and the batch runs again with each
intent in its own savepoint, so only that intent is rejected. Transient failures propagate
unchanged: the transaction rolled back, and the caller retries the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import asyncpg
import structlog

from messages.envelope import Received, body_digest, reused_id
from messages.errors import IntentRejected
from messages.intents import INTENT_KINDS, Intent, RepositoryIntent, RevisionIntent
from messages.outcomes import Applied, Duplicate, FinalOutcome, Outcome, Rejected, RejectReason
from messages.partition import package_lock_key
from writer.apply import ApplyContext, apply_intent, plan_intent
from writer.apply.resources import Rewrite
from writer.coalesce import Coalescer
from writer.gateway import Connection, Gateway
from writer.rows import Logged, LogRecord
from writer.transient import database_message, is_data_error

PARTITION_LOCK_CLASS = 0x706F7263
"""Advisory lock class ('porc') of the per-partition lock; its second key is the partition."""
DEAD_LETTERED = "dead_lettered"

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class BatchItem:
    log_id: UUID
    """messages.envelope.log_id(received): the id the delivery is recorded under."""
    received: Received
    intent: Intent | None
    """The decoded intent, or None when it was rejected before the database."""
    rejection: IntentRejected | None
    """A decode-time or authorization rejection; exactly one of intent/rejection is set."""
    received_at: datetime
    is_replay: bool = False
    """The delivery carries messages.envelope.HEADER_REPLAY (a dead letter sent again)."""

    def __post_init__(self) -> None:
        if (self.intent is None) == (self.rejection is None):
            raise ValueError("a BatchItem carries exactly one of intent and rejection")


@dataclass(frozen=True)
class BatchResult:
    outcomes: list[Outcome]
    """One per item, in the items' order."""
    applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    stale: int = 0
    conflicts: int = 0
    isolated: bool = False
    """The batch needed the savepoint-per-intent fallback."""
    coalesced: int = 0
    """Applied intents whose write was folded into an earlier one's."""


@dataclass
class _Run:
    """The state of one attempt at a batch (the fallback starts a fresh one)."""

    partition: int
    isolate: bool
    logged: dict[UUID, Logged]
    coalescer: Coalescer | None
    """None in the fallback: there every intent is written alone, in its own savepoint."""
    records: list[tuple[int, LogRecord]] = field(default_factory=list)
    """(position in the batch, record): written in batch order, whenever each was decided."""
    outcomes: list[Outcome | None] = field(default_factory=list)
    """None for an item whose write waits in the coalescer, until it is written."""
    waiting: dict[int, tuple[BatchItem, str]] = field(default_factory=dict)
    """Items waiting in the coalescer: position in the batch -> (item, body digest)."""

    def holds(self, log_id: UUID) -> bool:
        return any(item.log_id == log_id for item, _ in self.waiting.values())

    def settle(self, written: list[tuple[int, Applied]]) -> None:
        """Record the outcomes of the items whose deferred writes are now done."""
        for position, outcome in written:
            item, digest = self.waiting.pop(position)
            self.outcomes[position] = outcome
            self.record(position, item.log_id, item, digest, outcome)

    def record(
        self, position: int, record_id: UUID, item: BatchItem, digest: str, outcome: FinalOutcome
    ) -> None:
        record = _log_record(record_id, self.partition, item, digest, outcome)
        self.records.append((position, record))
        self.logged[record_id] = Logged(digest=digest, status=outcome.status, outcome=outcome)

    def result(self) -> BatchResult:
        outcomes = [outcome for outcome in self.outcomes if outcome is not None]
        assert len(outcomes) == len(self.outcomes), "every deferred write was done"
        statuses = [outcome.status for outcome in outcomes]
        return BatchResult(
            outcomes=outcomes,
            applied=statuses.count("applied"),
            duplicates=statuses.count("duplicate"),
            rejected=statuses.count("rejected"),
            stale=statuses.count("stale"),
            conflicts=statuses.count("conflict"),
            isolated=self.isolate,
            coalesced=self.coalescer.folded if self.coalescer else 0,
        )


async def apply_batch(
    connection: Connection, partition: int, items: Sequence[BatchItem]
) -> BatchResult:
    """Apply `items` in order in one transaction and record each outcome in the intent log."""
    if not items:
        return BatchResult(outcomes=[])
    try:
        return await _attempt(connection, partition, items, isolate=False)
    except asyncpg.PostgresError as error:
        if not is_data_error(error):
            raise
        log.warning(
            "batch_isolating",
            partition=partition,
            size=len(items),
            sqlstate=error.sqlstate,
            error=database_message(error),
        )
    return await _attempt(connection, partition, items, isolate=True)


async def _attempt(
    connection: Connection, partition: int, items: Sequence[BatchItem], *, isolate: bool
) -> BatchResult:
    gateway = Gateway(connection)
    package_keys = sorted(
        {package_lock_key(item.intent.partition_key) for item in items if item.intent}
    )
    # The transaction is managed by hand so that BEGIN travels with the locks: one round trip
    # fewer for every batch, which is much of a small batch's cost.
    owned = True
    try:
        owned = await gateway.begin_locked(PARTITION_LOCK_CLASS, partition, package_keys)
        logged = await gateway.fetch_logged({item.log_id for item in items})
        run = _Run(partition, isolate, logged, None if isolate else Coalescer(gateway))
        for position, item in enumerate(items):
            run.outcomes.append(await _process(gateway, run, position, item))
        if run.coalescer is not None:
            run.settle(await run.coalescer.write_all())
        await gateway.insert_log([record for _, record in sorted(run.records, key=_position)])
        await gateway.commit(owned)
    except BaseException:
        await gateway.rollback(owned)
        raise
    return run.result()


async def _process(gateway: Gateway, run: _Run, position: int, item: BatchItem) -> Outcome | None:
    """The item's outcome; None while its write waits in the coalescer."""
    digest = body_digest(item.received.body)
    if run.coalescer is not None and run.holds(item.log_id):
        # A redelivery of an intent whose write waits: its outcome is needed now.
        run.settle(await run.coalescer.write_all())
    prior = run.logged.get(item.log_id)
    if prior is not None and prior.digest != digest:
        return await _reused(gateway, run, position, item, digest)
    replaying = prior is not None and prior.status == DEAD_LETTERED and item.is_replay
    if prior is not None and not replaying:
        return Duplicate(intent_id=item.log_id, original=prior.outcome)
    outcome = await _decide(gateway, run, position, item)
    if outcome is None:
        run.waiting[position] = (item, digest)
        return None
    run.record(position, item.log_id, item, digest, outcome)
    return outcome


async def _reused(
    gateway: Gateway, run: _Run, position: int, item: BatchItem, digest: str
) -> Outcome:
    """A second, different body under a known id: rejected, recorded under a derived id.

    Rare, so its lookup is a query of its own rather than hashing every body twice up front.
    """
    record_id = reused_id(item.log_id, item.received.body)
    if record_id not in run.logged:
        run.logged.update(await gateway.fetch_logged([record_id]))
    prior = run.logged.get(record_id)
    if prior is not None:
        return Duplicate(intent_id=item.log_id, original=prior.outcome)
    outcome = Rejected(
        intent_id=item.log_id,
        reason=RejectReason.ID_REUSED,
        message=f"intent id {item.log_id} was already used for a different intent "
        f"(recorded under {record_id})",
    )
    run.record(position, record_id, item, digest, outcome)
    return outcome


async def _decide(
    gateway: Gateway, run: _Run, position: int, item: BatchItem
) -> FinalOutcome | None:
    if item.rejection is not None:
        return item.rejection.outcome(item.log_id)
    assert item.intent is not None  # BatchItem holds exactly one of the two
    context = ApplyContext.for_user(item.received.user_id)
    coalescer = run.coalescer
    if coalescer is not None:
        if coalescer.join(position, item.intent, context):
            return None
        run.settle(await coalescer.write_touched(item.intent))
        planned = await plan_intent(gateway, item.intent, context)
        if isinstance(planned, Rewrite):
            coalescer.start(position, planned)
            return None
        return planned
    await gateway.savepoint()
    try:
        outcome = await apply_intent(gateway, item.intent, context)
    except asyncpg.PostgresError as error:
        if not is_data_error(error):
            raise
        await gateway.rollback_to_savepoint()
        log.warning(
            "intent_refused_by_database",
            intent_id=str(item.log_id),
            kind=item.intent.kind,
            sqlstate=error.sqlstate,
            error=database_message(error),
        )
        return Rejected(
            intent_id=item.log_id,
            reason=RejectReason.CONSTRAINT_VIOLATION,
            message=database_message(error),
        )
    await gateway.release_savepoint()
    return outcome


def _position(entry: tuple[int, LogRecord]) -> int:
    return entry[0]


def _log_record(
    record_id: UUID, partition: int, item: BatchItem, digest: str, outcome: FinalOutcome
) -> LogRecord:
    intent = item.intent
    return LogRecord(
        intent_id=record_id,
        partition=partition,
        namespace=intent.namespace if intent else None,
        name=subject_of(intent),
        revision_name=intent.revision_name if isinstance(intent, RevisionIntent) else None,
        kind=intent.kind if intent else _rejected_kind(item),
        producer_user=item.received.user_id,
        producer_role=intent.producer.value if intent else None,
        outcome=outcome,
        body_digest=digest,
        received_at=item.received_at,
    )


def subject_of(intent: Intent | None) -> str | None:
    """The package, or the repository for repository intents."""
    if intent is None:
        return None
    return intent.repository if isinstance(intent, RepositoryIntent) else intent.package


def _rejected_kind(item: BatchItem) -> str | None:
    # A forbidden intent decoded fine, so its `type` property was checked against its kind;
    # other rejections may carry any `type`, so they are logged without one.
    rejection = item.rejection
    if rejection is not None and rejection.reason is RejectReason.FORBIDDEN:
        return item.received.type if item.received.type in INTENT_KINDS else None
    return None
