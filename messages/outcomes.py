"""What the writer answers for each intent, recorded in its intent log and sent to reply queues."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, TypeAdapter

from messages.fields import FrozenModel, Version


class RejectReason(StrEnum):
    """Why an intent was rejected. Stable codes: producers branch on them."""

    # The delivery itself is unreadable or not allowed.
    INVALID_JSON = "invalid_json"
    INVALID_CONTENT_TYPE = "invalid_content_type"
    UNKNOWN_KIND = "unknown_kind"
    INVALID_INTENT = "invalid_intent"
    UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
    TOO_LARGE = "too_large"
    UNSAFE_KEY = "unsafe_key"
    INCONSISTENT_ENVELOPE = "inconsistent_envelope"
    FORBIDDEN = "forbidden"
    ID_REUSED = "id_reused"
    # The intent is well formed but porch's rules refuse it against the current rows.
    UNKNOWN_REPOSITORY = "unknown_repository"
    UNKNOWN_REVISION = "unknown_revision"
    ALREADY_EXISTS = "already_exists"
    NOT_DRAFT = "not_draft"
    INVALID_TRANSITION = "invalid_transition"
    RENDER_PENDING = "render_pending"
    KPTFILE_MISSING = "kptfile_missing"
    CONSTRAINT_VIOLATION = "constraint_violation"


class OutcomeBase(FrozenModel):
    intent_id: UUID


class Applied(OutcomeBase):
    status: Literal["applied"] = "applied"
    version: Version | None = Field(
        description="The revision's new version; None for repository and delete intents"
    )
    revision: int | None = Field(None, description="The revision number a publish assigned")


class Stale(OutcomeBase):
    """A render result based on content that has changed since; nothing was written."""

    status: Literal["stale"] = "stale"
    base_version: Version
    current_version: Version


class Conflict(OutcomeBase):
    """The revision is not at the version the intent expected; nothing was written."""

    status: Literal["conflict"] = "conflict"
    expected_version: Version
    current_version: Version


class Rejected(OutcomeBase):
    status: Literal["rejected"] = "rejected"
    reason: RejectReason
    message: str


class DeadLettered(OutcomeBase):
    """The broker gave up on the delivery after its delivery limit; it waits in the DLQ."""

    status: Literal["dead_lettered"] = "dead_lettered"
    reason: str
    message: str


FinalOutcome = Annotated[
    Applied | Stale | Conflict | Rejected | DeadLettered, Field(discriminator="status")
]


class Duplicate(OutcomeBase):
    """The intent id was seen before; this is the outcome recorded then."""

    status: Literal["duplicate"] = "duplicate"
    original: FinalOutcome


Outcome = Annotated[
    Applied | Stale | Conflict | Rejected | DeadLettered | Duplicate,
    Field(discriminator="status"),
]

OUTCOME_ADAPTER: TypeAdapter[Outcome] = TypeAdapter(Outcome)
FINAL_OUTCOME_ADAPTER: TypeAdapter[FinalOutcome] = TypeAdapter(FinalOutcome)
