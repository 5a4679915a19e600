"""The ledger: every write the load test made, what it wrote and what came of it.

The verifier compares the database with it. A write's content is kept as its bodies (shared
with the content book) plus its id, from which the exact values are rebuilt when needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from loadtest.content import Bodies, stamp


class Status(StrEnum):
    APPLIED = "applied"
    STALE = "stale"
    CONFLICT = "conflict"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    ERROR = "error"
    """The database refused the write (a deadlock, a unique violation): porch returns an error."""
    TIMEOUT = "timeout"
    """Pipeline: the broker confirmed the intent, its outcome did not come in time."""
    UNCONFIRMED = "unconfirmed"
    """Pipeline: the broker did not confirm the publish."""


class WriteKind(StrEnum):
    CREATE = "create"
    PUSH = "push"
    RENDER = "render"
    LIFECYCLE = "lifecycle"
    PUBLISH = "publish"


RESOURCE_KINDS = frozenset({WriteKind.CREATE, WriteKind.PUSH, WriteKind.RENDER})


@dataclass(slots=True)
class Result:
    """What a backend reports for one write."""

    status: Status
    version: int | None = None
    intent_id: UUID | None = None
    confirmed: bool = True
    detail: str | None = None


@dataclass(slots=True)
class WriteRecord:
    write_id: str
    kind: WriteKind
    revision: str
    bodies: Bodies | None
    """None for a write that does not set resources (lifecycle, publish)."""
    status: Status | None = None
    version: int | None = None
    intent_id: UUID | None = None
    confirmed: bool = False
    detail: str | None = None

    def content(self) -> dict[str, str] | None:
        """Exactly the resources this write wrote."""
        return None if self.bodies is None else stamp(self.bodies, self.write_id)


class Ledger:
    def __init__(self) -> None:
        self._writes: dict[str, WriteRecord] = {}
        self._by_intent: dict[UUID, str] = {}

    def begin(
        self,
        write_id: str,
        kind: WriteKind,
        revision: str,
        bodies: Bodies | None = None,
    ) -> WriteRecord:
        if write_id in self._writes:
            raise ValueError(f"write id {write_id!r} used twice")
        record = WriteRecord(
            write_id=write_id,
            kind=kind,
            revision=revision,
            bodies=bodies,
        )
        self._writes[write_id] = record
        return record

    def finish(self, record: WriteRecord, result: Result) -> None:
        record.status = result.status
        record.version = result.version
        record.intent_id = result.intent_id
        record.confirmed = result.confirmed
        record.detail = result.detail
        if result.intent_id is not None:
            self._by_intent[result.intent_id] = record.write_id

    def get(self, write_id: str) -> WriteRecord | None:
        return self._writes.get(write_id)

    def by_intent(self, intent_id: UUID) -> WriteRecord | None:
        write_id = self._by_intent.get(intent_id)
        return None if write_id is None else self._writes[write_id]

    def __iter__(self) -> Iterator[WriteRecord]:
        return iter(self._writes.values())

    def __len__(self) -> int:
        return len(self._writes)

    def confirmed_intents(self) -> list[UUID]:
        """Intents the broker confirmed: each must end up with an outcome in the intent log."""
        return [
            record.intent_id
            for record in self._writes.values()
            if record.intent_id is not None and record.confirmed
        ]

    def last_applied(self) -> dict[str, WriteRecord]:
        """Per revision, the applied resource write with the highest version.

        Exact for modes whose version order is their commit order (locked); the pipeline
        takes the order from the writer's intent log instead.
        """
        last: dict[str, WriteRecord] = {}
        for record in self._writes.values():
            if record.kind not in RESOURCE_KINDS or record.status is not Status.APPLIED:
                continue
            if record.version is None:
                continue
            seen = last.get(record.revision)
            if seen is None or (seen.version or 0) < record.version:
                last[record.revision] = record
        return last
