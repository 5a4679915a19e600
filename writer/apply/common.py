"""What every apply function shares: its context, outcome builders and precondition checks.

Apply functions check every precondition before their first write, so a rejection, a conflict
or a stale result leaves the database exactly as it was (only the intent log records it).
"""

from __future__ import annotations

from dataclasses import dataclass

from messages.fields import Lifecycle
from messages.intents import (
    ExternalRevisionSync,
    IntentBase,
    LifecycleChange,
    MetadataSet,
    PlaceholderUpsert,
    RevisionCreate,
    RevisionDelete,
    RevisionIntent,
    RevisionPublish,
)
from messages.outcomes import Applied, Conflict, Rejected, RejectReason
from writer.gateway import Gateway
from writer.rows import Placement, RevisionRow

DEFAULT_UPDATED_BY = "porch-writer"


@dataclass(frozen=True)
class ApplyContext:
    """Who is writing: porch's `updatedby` column is the producer's (broker-validated) user."""

    updated_by: str = DEFAULT_UPDATED_BY

    @classmethod
    def for_user(cls, user_id: str | None) -> ApplyContext:
        return cls(updated_by=user_id or DEFAULT_UPDATED_BY)


def applied(intent: IntentBase, version: int | None, revision: int | None = None) -> Applied:
    return Applied(intent_id=intent.intent_id, version=version, revision=revision)


def rejected(intent: IntentBase, reason: RejectReason, message: str) -> Rejected:
    return Rejected(intent_id=intent.intent_id, reason=reason, message=message)


def revision_label(intent: RevisionIntent) -> str:
    return f"package revision {intent.namespace}/{intent.revision_name}"


async def load_revision(gateway: Gateway, intent: RevisionIntent) -> RevisionRow | Rejected:
    """The revision the intent names; or `unknown_revision`."""
    row = await gateway.fetch_revision(intent.namespace, intent.revision_name)
    if row is None:
        return unknown_revision(intent)
    refusal = check_package(intent, row)
    return row if refusal is None else refusal


async def load_at_expected(
    gateway: Gateway, intent: LifecycleChange | RevisionPublish | MetadataSet | RevisionDelete
) -> RevisionRow | Rejected | Conflict:
    """The revision the intent names, if it is at the version the intent expects (if any)."""
    row = await load_revision(gateway, intent)
    if isinstance(row, Rejected):
        return row
    return check_expected(intent, intent.expected_version, row) or row


def unknown_revision(intent: RevisionIntent) -> Rejected:
    return rejected(intent, RejectReason.UNKNOWN_REVISION, f"no {revision_label(intent)}")


def check_package(intent: RevisionIntent, row: RevisionRow) -> Rejected | None:
    """A revision of another package counts as unknown: the batch holds only the lock of the
    intent's own package, so writing another package's revision would bypass its writer."""
    if row.package == intent.package:
        return None
    return rejected(
        intent,
        RejectReason.UNKNOWN_REVISION,
        f"{revision_label(intent)} belongs to package {row.package!r}, not {intent.package!r}",
    )


def check_expected(
    intent: IntentBase, expected_version: int | None, row: RevisionRow
) -> Conflict | None:
    if expected_version is None or expected_version == row.version:
        return None
    return Conflict(
        intent_id=intent.intent_id, expected_version=expected_version, current_version=row.version
    )


def require_draft(intent: RevisionIntent, row: RevisionRow) -> Rejected | None:
    if row.lifecycle is Lifecycle.DRAFT:
        return None
    return rejected(
        intent,
        RejectReason.NOT_DRAFT,
        f"{revision_label(intent)} is {row.lifecycle.value}; only a Draft's resources change",
    )


def check_placement(
    intent: RevisionIntent, repository: str, placement: Placement
) -> Rejected | None:
    """A new or upserted revision needs its repository, and its package must live there."""
    if not placement.repository_exists:
        return rejected(
            intent,
            RejectReason.UNKNOWN_REPOSITORY,
            f"no repository {intent.namespace}/{repository}",
        )
    if placement.package_repository not in (None, repository):
        return rejected(
            intent,
            RejectReason.ALREADY_EXISTS,
            f"package {intent.namespace}/{intent.package} exists in repository "
            f"{placement.package_repository!r}, not {repository!r}",
        )
    existing = placement.revision
    if existing is not None and existing.package != intent.package:
        return rejected(
            intent,
            RejectReason.ALREADY_EXISTS,
            f"{revision_label(intent)} exists in package {existing.package!r}",
        )
    return None


async def ensure_package(
    gateway: Gateway,
    intent: RevisionCreate | PlaceholderUpsert | ExternalRevisionSync,
    placement: Placement,
    context: ApplyContext,
) -> None:
    """Create the package row a new revision belongs to, unless it exists."""
    if placement.package_repository is None:
        await gateway.ensure_package(
            intent.namespace,
            intent.package,
            repository=intent.repository,
            package_path=intent.package_path,
            updated_by=context.updated_by,
        )
