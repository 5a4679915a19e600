"""Lifecycle changes and publishing. Neither touches `resources` (guarantee 6).

Porch's state machine: Draft <-> Proposed before publishing, Published <-> DeletionProposed
after; a revision becomes Published only through revision_publish, which numbers it.
"""

from __future__ import annotations

from messages.fields import Lifecycle
from messages.intents import LifecycleChange, RevisionPublish
from messages.outcomes import FinalOutcome, RejectReason
from writer.apply.common import (
    ApplyContext,
    applied,
    load_at_expected,
    rejected,
    revision_label,
)
from writer.gateway import Gateway
from writer.rows import RevisionRow

ALLOWED_TRANSITIONS = frozenset(
    {
        (Lifecycle.DRAFT, Lifecycle.PROPOSED),
        (Lifecycle.PROPOSED, Lifecycle.DRAFT),
        (Lifecycle.PUBLISHED, Lifecycle.DELETION_PROPOSED),
        (Lifecycle.DELETION_PROPOSED, Lifecycle.PUBLISHED),
    }
)


def transition_problem(current: Lifecycle, target: Lifecycle) -> str | None:
    if current is target or (current, target) in ALLOWED_TRANSITIONS:
        return None
    hint = " (a revision is published only by revision_publish)"
    return f"cannot change lifecycle from {current.value} to {target.value}" + (
        hint if target is Lifecycle.PUBLISHED else ""
    )


async def change(gateway: Gateway, intent: LifecycleChange, context: ApplyContext) -> FinalOutcome:
    row = await load_at_expected(gateway, intent)
    if not isinstance(row, RevisionRow):
        return row
    target = Lifecycle(intent.lifecycle)
    problem = transition_problem(row.lifecycle, target)
    if problem is not None:
        return rejected(
            intent, RejectReason.INVALID_TRANSITION, f"{revision_label(intent)}: {problem}"
        )
    proposing = row.lifecycle is Lifecycle.DRAFT and target is Lifecycle.PROPOSED
    if proposing and row.pending_version is not None:
        return rejected(
            intent,
            RejectReason.RENDER_PENDING,
            f"{revision_label(intent)} waits for the render of version {row.pending_version}",
        )
    version = await gateway.update_lifecycle(
        intent.namespace, intent.revision_name, target, updated_by=context.updated_by
    )
    return applied(intent, version)


async def publish(gateway: Gateway, intent: RevisionPublish, context: ApplyContext) -> FinalOutcome:
    """Numbers the revision max + 1 over the package and makes it the package's only latest."""
    row = await load_at_expected(gateway, intent)
    if not isinstance(row, RevisionRow):
        return row
    if row.lifecycle is not Lifecycle.PROPOSED:
        return rejected(
            intent,
            RejectReason.INVALID_TRANSITION,
            f"{revision_label(intent)} is {row.lifecycle.value}; only a Proposed revision "
            "can be published",
        )
    found = await gateway.fetch_publish_context(
        intent.namespace, intent.revision_name, intent.package
    )
    if not found.has_kptfile:
        return rejected(
            intent,
            RejectReason.KPTFILE_MISSING,
            f"{revision_label(intent)} has no Kptfile resource; it cannot be published",
        )
    number = found.max_revision + 1
    version = await gateway.publish_revision(
        intent.namespace,
        intent.revision_name,
        package=intent.package,
        revision=number,
        updated_by=context.updated_by,
    )
    return applied(intent, version, revision=number)
