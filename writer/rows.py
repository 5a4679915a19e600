"""What the gateway returns: small frozen rows, with versions already as integers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from messages.fields import Lifecycle
from messages.outcomes import FinalOutcome

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def version_of(updated: datetime) -> int:
    """porch's resourceVersion: `updated` in microseconds since the epoch, exact (no float)."""
    return (updated - _EPOCH) // _MICROSECOND


@dataclass(frozen=True)
class RevisionRow:
    package: str
    revision: int
    lifecycle: Lifecycle
    latest: bool
    version: int
    pending_version: int | None
    """The version a requested render must answer before the revision may be proposed."""


@dataclass(frozen=True)
class Placement:
    """What a create or upsert checks: the repository, the package's home, the existing row."""

    repository_exists: bool
    package_repository: str | None
    revision: RevisionRow | None


@dataclass(frozen=True)
class PublishContext:
    has_kptfile: bool
    max_revision: int


@dataclass(frozen=True)
class Logged:
    """An intent_log row as the batch needs it to deduplicate."""

    digest: str
    status: str
    outcome: FinalOutcome


@dataclass(frozen=True)
class LogRecord:
    """A new intent_log row."""

    intent_id: UUID
    partition: int
    namespace: str | None
    name: str | None
    revision_name: str | None
    kind: str | None
    producer_user: str | None
    producer_role: str | None
    outcome: FinalOutcome
    body_digest: str
    received_at: datetime | None


@dataclass(frozen=True)
class LogEntry:
    """An intent_log row for verifiers, in apply order."""

    seq: int
    intent_id: UUID
    partition: int | None
    namespace: str | None
    name: str | None
    revision_name: str | None
    kind: str | None
    producer_user: str | None
    status: str
    reason: str | None
    version: int | None
    outcome: FinalOutcome
    recorded_at: datetime


@dataclass(frozen=True)
class DeadLetterRow:
    id: int
    log_id: UUID
    intent_id: UUID | None
    queue: str | None
    partition: int | None
    kind: str | None
    reason: str
    death_count: int | None
    properties: dict[str, object]
    headers: dict[str, object]
    body: bytes
    dead_lettered_at: datetime
    replayed_at: datetime | None


@dataclass(frozen=True)
class NewDeadLetter:
    """A delivery the broker dead-lettered, as `record_dead_letter` stores it."""

    log_id: UUID
    intent_id: UUID | None
    queue: str | None
    partition: int | None
    kind: str | None
    reason: str
    death_count: int | None
    properties_json: str
    headers_json: str
    body: bytes
    namespace: str | None
    name: str | None
    revision_name: str | None
    producer_user: str | None
    producer_role: str | None
    message: str
    outcome_json: str
    body_digest: str
    received_at: datetime | None
