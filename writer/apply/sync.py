"""Revisions cached as found in the external repository: the placeholder and published ones.

Both are upserts: the row is created when absent (with its package) and overwritten when
present, its resources written as a diff. A local revision is never overwritten by either.
"""

from __future__ import annotations

from messages.fields import Lifecycle
from messages.intents import ExternalRevisionSync, PlaceholderUpsert
from messages.outcomes import FinalOutcome, RejectReason
from writer.apply.common import (
    ApplyContext,
    applied,
    check_placement,
    ensure_package,
    rejected,
    revision_label,
)
from writer.apply.resources import resources_size, write_resources
from writer.gateway import Gateway
from writer.rows import Placement

PLACEHOLDER_REVISION = -1


async def _check(
    gateway: Gateway,
    intent: PlaceholderUpsert | ExternalRevisionSync,
    revision: int,
) -> Placement | FinalOutcome:
    """The placement, or why the upsert must not happen."""
    placement = await gateway.fetch_placement(
        intent.namespace, intent.repository, intent.package, intent.revision_name
    )
    refusal = check_placement(intent, intent.repository, placement)
    if refusal is not None:
        return refusal
    existing = placement.revision
    if existing is not None and existing.revision != revision:
        return rejected(
            intent,
            RejectReason.INVALID_TRANSITION,
            f"{revision_label(intent)} exists as revision {existing.revision} "
            f"({existing.lifecycle.value}); it cannot become revision {revision}",
        )
    return placement


async def _upsert(
    gateway: Gateway,
    intent: PlaceholderUpsert | ExternalRevisionSync,
    placement: Placement,
    context: ApplyContext,
    *,
    revision: int,
    lifecycle: Lifecycle,
    ext_pr_id: str,
) -> int:
    await ensure_package(gateway, intent, placement, context)
    version = await gateway.upsert_synced_revision(
        intent.namespace,
        intent.revision_name,
        package=intent.package,
        revision=revision,
        lifecycle=lifecycle,
        ext_pr_id=ext_pr_id,
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
        revision,
        intent.resources,
        is_new=placement.revision is None,
    )
    return version


async def upsert_placeholder(
    gateway: Gateway, intent: PlaceholderUpsert, context: ApplyContext
) -> FinalOutcome:
    """Porch's revision -1, tracking the package's branch head; never the latest."""
    placement = await _check(gateway, intent, PLACEHOLDER_REVISION)
    if not isinstance(placement, Placement):
        return placement
    version = await _upsert(
        gateway,
        intent,
        placement,
        context,
        revision=PLACEHOLDER_REVISION,
        lifecycle=Lifecycle.PUBLISHED,
        ext_pr_id="{}",
    )
    return applied(intent, version)


async def sync_external(
    gateway: Gateway, intent: ExternalRevisionSync, context: ApplyContext
) -> FinalOutcome:
    placement = await _check(gateway, intent, intent.revision)
    if not isinstance(placement, Placement):
        return placement
    version = await _upsert(
        gateway,
        intent,
        placement,
        context,
        revision=intent.revision,
        lifecycle=Lifecycle(intent.lifecycle),
        ext_pr_id=intent.ext_pr_id,
    )
    await gateway.refresh_latest(intent.namespace, intent.package)
    return applied(intent, version, revision=intent.revision)
