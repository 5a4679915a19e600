"""Resource writes as a diff, and the two intents that rewrite a Draft's resources.

Only changed rows are written: keys that went away are deleted in one statement, new and changed
keys are upserted in one statement, unchanged rows are not touched at all (their xmin stays).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from messages.intents import RenderResult, ResourcesUpdate
from messages.outcomes import FinalOutcome, Rejected, Stale
from writer.apply.common import (
    ApplyContext,
    applied,
    check_expected,
    check_package,
    require_draft,
    unknown_revision,
)
from writer.gateway import Gateway
from writer.rows import RevisionRow


@dataclass(frozen=True)
class ResourceDiff:
    deleted: list[str]
    upserted: list[tuple[str, str]]


def diff_resources(
    current_digests: Mapping[str, str], resources: Mapping[str, str]
) -> ResourceDiff:
    """Compare by md5, as PostgreSQL's md5(resource_value) over the same UTF-8 bytes."""
    deleted = sorted(key for key in current_digests if key not in resources)
    upserted = [
        (key, value)
        for key, value in sorted(resources.items())
        if current_digests.get(key) != hashlib.md5(value.encode("utf-8")).hexdigest()
    ]
    return ResourceDiff(deleted=deleted, upserted=upserted)


def resources_size(resources: Mapping[str, str]) -> int:
    """porch's resources_size: the total bytes of the values."""
    return sum(len(value.encode("utf-8")) for value in resources.values())


async def write_resources(
    gateway: Gateway,
    namespace: str,
    name: str,
    revision: int,
    resources: Mapping[str, str],
    *,
    is_new: bool = False,
) -> ResourceDiff:
    """Make the revision's resources equal `resources`; at most three round trips."""
    current = {} if is_new else await gateway.fetch_resource_digests(namespace, name)
    diff = diff_resources(current, resources)
    if diff.deleted:
        await gateway.delete_resources(namespace, name, diff.deleted)
    if diff.upserted:
        await gateway.upsert_resources(namespace, name, revision, diff.upserted)
    return diff


async def _load_for_rewrite(
    gateway: Gateway, intent: ResourcesUpdate | RenderResult
) -> tuple[RevisionRow, dict[str, str]] | Rejected:
    found = await gateway.fetch_revision_for_rewrite(intent.namespace, intent.revision_name)
    if found is None:
        return unknown_revision(intent)
    row, digests = found
    refusal = check_package(intent, row) or require_draft(intent, row)
    return refusal if refusal is not None else (row, digests)


async def _rewrite(
    gateway: Gateway,
    intent: ResourcesUpdate | RenderResult,
    row: RevisionRow,
    digests: dict[str, str],
    context: ApplyContext,
    *,
    kptfile_status: str | None,
    pending: str,
) -> int:
    diff = diff_resources(digests, intent.resources)
    return await gateway.rewrite_resources(
        intent.namespace,
        intent.revision_name,
        row.revision,
        deleted=diff.deleted,
        upserted=diff.upserted,
        resources_size=resources_size(intent.resources),
        kptfile_status=kptfile_status,
        updated_by=context.updated_by,
        pending=pending,
    )


async def push(gateway: Gateway, intent: ResourcesUpdate, context: ApplyContext) -> FinalOutcome:
    """A user's push; with requests_render the revision cannot be proposed until rendered.

    Two round trips: one read (revision and digests), one write (diff and stamp).
    """
    loaded = await _load_for_rewrite(gateway, intent)
    if isinstance(loaded, Rejected):
        return loaded
    row, digests = loaded
    conflict = check_expected(intent, intent.expected_version, row)
    if conflict is not None:
        return conflict
    if intent.requests_render:
        pending = "set"
    else:
        pending = "clear" if row.pending_version is not None else "keep"
    version = await _rewrite(
        gateway, intent, row, digests, context, kptfile_status=None, pending=pending
    )
    return applied(intent, version)


async def render(gateway: Gateway, intent: RenderResult, context: ApplyContext) -> FinalOutcome:
    """The controller's write-back: compare-and-set on the version it rendered (guarantee 7)."""
    loaded = await _load_for_rewrite(gateway, intent)
    if isinstance(loaded, Rejected):
        return loaded
    row, digests = loaded
    if intent.base_version != row.version:
        return Stale(
            intent_id=intent.intent_id,
            base_version=intent.base_version,
            current_version=row.version,
        )
    pending = "clear" if row.pending_version is not None else "keep"
    version = await _rewrite(
        gateway,
        intent,
        row,
        digests,
        context,
        kptfile_status=intent.kptfile_status,
        pending=pending,
    )
    return applied(intent, version)
