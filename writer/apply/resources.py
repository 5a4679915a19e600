"""Resource writes as a diff, and the two intents that rewrite a Draft's resources.

Only changed rows are written: keys that went away are deleted in one statement, new and changed
keys are upserted in one statement, unchanged rows are not touched at all (their xmin stays).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
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


@dataclass(frozen=True)
class Rewrite:
    """A push or render that passed its checks and is not written yet.

    Written alone, or as the first of a run that writer.coalesce folds into one write.
    """

    intent: ResourcesUpdate | RenderResult
    row: RevisionRow
    """The revision as read before the run's first write."""
    digests: dict[str, str]
    """The md5 of each resource as read before the run's first write."""
    updated_by: str
    kptfile_status: str | None
    pending: str
    """What this intent does to the pending render: `set`, `clear` or `keep`."""


def push_pending(intent: ResourcesUpdate, render_pending: bool) -> str:
    if intent.requests_render:
        return "set"
    return "clear" if render_pending else "keep"


async def write_rewrites(gateway: Gateway, run: Sequence[Rewrite]) -> list[int]:
    """Write a run of rewrites of one revision as one statement; each one's version, in order.

    The run's effect is its last rewrite's resources, diffed against what the first one read;
    the pending render is what the last rewrite that changed it did; the kptfile status is the
    last one given. The versions are the stamped version and the microseconds before it.
    """
    first, last = run[0], run[-1]
    diff = diff_resources(first.digests, last.intent.resources)
    changes = [rewrite.pending for rewrite in run if rewrite.pending != "keep"]
    statuses = [rewrite.kptfile_status for rewrite in run if rewrite.kptfile_status is not None]
    final = await gateway.rewrite_resources(
        last.intent.namespace,
        last.intent.revision_name,
        first.row.revision,
        deleted=diff.deleted,
        upserted=diff.upserted,
        resources_size=resources_size(last.intent.resources),
        kptfile_status=statuses[-1] if statuses else None,
        updated_by=last.updated_by,
        pending=changes[-1] if changes else "keep",
        steps=len(run),
    )
    return [final - (len(run) - 1 - position) for position in range(len(run))]


async def plan_push(
    gateway: Gateway, intent: ResourcesUpdate, context: ApplyContext
) -> FinalOutcome | Rewrite:
    """Check a user's push against the revision; a Rewrite when it applies."""
    loaded = await _load_for_rewrite(gateway, intent)
    if isinstance(loaded, Rejected):
        return loaded
    row, digests = loaded
    conflict = check_expected(intent, intent.expected_version, row)
    if conflict is not None:
        return conflict
    pending = push_pending(intent, row.pending_version is not None)
    return Rewrite(intent, row, digests, context.updated_by, None, pending)


async def plan_render(
    gateway: Gateway, intent: RenderResult, context: ApplyContext
) -> FinalOutcome | Rewrite:
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
    return Rewrite(intent, row, digests, context.updated_by, intent.kptfile_status, pending)


async def _write_alone(gateway: Gateway, planned: FinalOutcome | Rewrite) -> FinalOutcome:
    if not isinstance(planned, Rewrite):
        return planned
    (version,) = await write_rewrites(gateway, [planned])
    return applied(planned.intent, version)


async def push(gateway: Gateway, intent: ResourcesUpdate, context: ApplyContext) -> FinalOutcome:
    """A user's push; with requests_render the revision cannot be proposed until rendered.

    Two round trips: one read (revision and digests), one write (diff and stamp).
    """
    return await _write_alone(gateway, await plan_push(gateway, intent, context))


async def render(gateway: Gateway, intent: RenderResult, context: ApplyContext) -> FinalOutcome:
    return await _write_alone(gateway, await plan_render(gateway, intent, context))
