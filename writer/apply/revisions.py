"""Creating a package revision (a local Draft or Proposed, revision 0) and deleting one."""

from __future__ import annotations

from messages.fields import Lifecycle
from messages.intents import RevisionCreate, RevisionDelete
from messages.outcomes import FinalOutcome, RejectReason
from writer.apply.common import (
    ApplyContext,
    applied,
    check_placement,
    ensure_package,
    load_at_expected,
    rejected,
    revision_label,
)
from writer.apply.resources import resources_size, write_resources
from writer.gateway import Gateway
from writer.rows import RevisionRow

LOCAL_REVISION = 0
"""Porch numbers a revision only when it is published; until then it is 0."""


async def create(gateway: Gateway, intent: RevisionCreate, context: ApplyContext) -> FinalOutcome:
    placement = await gateway.fetch_placement(
        intent.namespace, intent.repository, intent.package, intent.revision_name
    )
    refusal = check_placement(intent, intent.repository, placement)
    if refusal is not None:
        return refusal
    if placement.revision is not None:
        return rejected(intent, RejectReason.ALREADY_EXISTS, f"{revision_label(intent)} exists")
    await ensure_package(gateway, intent, placement, context)
    version = await gateway.insert_revision(
        intent.namespace,
        intent.revision_name,
        package=intent.package,
        lifecycle=Lifecycle(intent.lifecycle),
        meta=intent.meta,
        spec=intent.spec,
        tasks=intent.tasks,
        resources_size=resources_size(intent.resources),
        updated_by=context.updated_by,
    )
    await write_resources(
        gateway,
        intent.namespace,
        intent.revision_name,
        LOCAL_REVISION,
        intent.resources,
        is_new=True,
    )
    if intent.requests_render:
        await gateway.set_render_pending(intent.namespace, intent.revision_name, version)
    return applied(intent, version)


async def delete(gateway: Gateway, intent: RevisionDelete, context: ApplyContext) -> FinalOutcome:
    """Porch's rule: a published revision is first proposed for deletion; a placeholder is not."""
    row = await load_at_expected(gateway, intent)
    if not isinstance(row, RevisionRow):
        return row
    if row.lifecycle is Lifecycle.PUBLISHED and row.revision > 0:
        return rejected(
            intent,
            RejectReason.INVALID_TRANSITION,
            f"{revision_label(intent)} is Published (revision {row.revision}); "
            "propose it for deletion (DeletionProposed) before deleting it",
        )
    was_latest = await gateway.delete_revision(intent.namespace, intent.revision_name)
    if was_latest:
        await gateway.refresh_latest(intent.namespace, intent.package)
    await gateway.delete_package_if_empty(intent.namespace, intent.package)
    return applied(intent, None)
