"""Builders of intents and batch items for tests: fresh ids, sensible defaults, overridable.

Every `make_*` returns a frozen intent model with a new uuid4 `intent_id`, the server producer
and `issued_at=now`; keyword arguments override any field.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import asyncpg

from messages.envelope import HEADER_REPLAY, Received, encode_intent, log_id
from messages.errors import IntentRejected
from messages.fields import Lifecycle, ProducerRole
from messages.intents import (
    ExternalRevisionSync,
    Intent,
    LifecycleChange,
    MetadataSet,
    PlaceholderUpsert,
    RenderResult,
    RepositoryRegister,
    RepositoryRemove,
    RepositoryUpdate,
    ResourcesUpdate,
    RevisionCreate,
    RevisionDelete,
    RevisionPublish,
)
from messages.outcomes import Applied, FinalOutcome, Outcome
from messages.partition import partition_of
from writer.batch import BatchItem, apply_batch

NS = "ns"
REPO = "repo"
SERVER_USER = "porch-server"
RENDER_USER = "porch-render"
PARTITIONS = 4

KPTFILE = "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: pkg\n"


def sample_resources(**extra: str) -> dict[str, str]:
    """A small valid package: a Kptfile and one ConfigMap, plus `extra` keys (dots as `__`)."""
    resources = {
        "Kptfile": KPTFILE,
        "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: '1'\n",
    }
    resources.update({key.replace("__", "."): value for key, value in extra.items()})
    return resources


def _base(producer: ProducerRole = ProducerRole.SERVER) -> dict[str, Any]:
    return {"intent_id": uuid4(), "producer": producer, "issued_at": datetime.now(UTC)}


def make_repository(ns: str = NS, repo: str = REPO, **kw: Any) -> RepositoryRegister:
    return RepositoryRegister(**{**_base(), "namespace": ns, "repository": repo, **kw})


def make_repository_update(ns: str = NS, repo: str = REPO, **kw: Any) -> RepositoryUpdate:
    fields = {"meta": '{"v": 2}', "spec": '{"git": {}}', **kw}
    return RepositoryUpdate(**{**_base(), "namespace": ns, "repository": repo, **fields})


def make_repository_remove(ns: str = NS, repo: str = REPO, **kw: Any) -> RepositoryRemove:
    return RepositoryRemove(**{**_base(), "namespace": ns, "repository": repo, **kw})


def _revision(ns: str, pkg: str, rev: str) -> dict[str, Any]:
    return {"namespace": ns, "package": pkg, "revision_name": rev}


def make_create(
    ns: str, pkg: str, rev: str, resources: dict[str, str] | None = None, **kw: Any
) -> RevisionCreate:
    fields = {"repository": REPO, "package_path": pkg, **kw}
    resources = sample_resources() if resources is None else resources
    return RevisionCreate(
        **{**_base(), **_revision(ns, pkg, rev), "resources": resources, **fields}
    )


def make_push(ns: str, pkg: str, rev: str, resources: dict[str, str], **kw: Any) -> ResourcesUpdate:
    return ResourcesUpdate(**{**_base(), **_revision(ns, pkg, rev), "resources": resources, **kw})


def make_render(
    ns: str, pkg: str, rev: str, resources: dict[str, str], base_version: int, **kw: Any
) -> RenderResult:
    fields = {"render_request": "render-1", "base_version": base_version, **kw}
    return RenderResult(
        **{
            **_base(ProducerRole.RENDER),
            **_revision(ns, pkg, rev),
            "resources": resources,
            **fields,
        }
    )


def make_lifecycle(ns: str, pkg: str, rev: str, lifecycle: Lifecycle, **kw: Any) -> LifecycleChange:
    return LifecycleChange(**{**_base(), **_revision(ns, pkg, rev), "lifecycle": lifecycle, **kw})


def make_publish(ns: str, pkg: str, rev: str, **kw: Any) -> RevisionPublish:
    return RevisionPublish(**{**_base(), **_revision(ns, pkg, rev), **kw})


def make_metadata(ns: str, pkg: str, rev: str, **kw: Any) -> MetadataSet:
    return MetadataSet(**{**_base(), **_revision(ns, pkg, rev), **kw})


def make_delete(ns: str, pkg: str, rev: str, **kw: Any) -> RevisionDelete:
    return RevisionDelete(**{**_base(), **_revision(ns, pkg, rev), **kw})


def make_placeholder(
    ns: str, pkg: str, rev: str, resources: dict[str, str] | None = None, **kw: Any
) -> PlaceholderUpsert:
    fields = {"repository": REPO, "package_path": pkg, **kw}
    resources = sample_resources() if resources is None else resources
    return PlaceholderUpsert(
        **{**_base(), **_revision(ns, pkg, rev), "resources": resources, **fields}
    )


def make_external(
    ns: str, pkg: str, rev: str, revision: int, resources: dict[str, str] | None = None, **kw: Any
) -> ExternalRevisionSync:
    fields = {"repository": REPO, "package_path": pkg, "revision": revision, **kw}
    resources = sample_resources() if resources is None else resources
    return ExternalRevisionSync(
        **{**_base(), **_revision(ns, pkg, rev), "resources": resources, **fields}
    )


def to_received(
    intent: Intent, *, user_id: str | None = None, replay: bool = False, body: bytes | None = None
) -> Received:
    """The delivery a producer's publish of `intent` becomes (as the writer's consumer sees it)."""
    envelope = encode_intent(intent)
    headers: dict[str, Any] = dict(envelope.headers)
    if replay:
        headers[HEADER_REPLAY] = 1
    default_user = RENDER_USER if intent.producer is ProducerRole.RENDER else SERVER_USER
    return Received(
        body=envelope.body if body is None else body,
        content_type=envelope.content_type,
        message_id=envelope.message_id,
        type=envelope.type,
        user_id=default_user if user_id is None else user_id,
        headers=headers,
    )


def to_item(intent: Intent, *, replay: bool = False, **kw: Any) -> BatchItem:
    received = to_received(intent, replay=replay, **kw)
    return BatchItem(
        log_id=log_id(received),
        received=received,
        intent=intent,
        rejection=None,
        received_at=datetime.now(UTC),
        is_replay=replay,
    )


def rejected_item(received: Received, rejection: IntentRejected) -> BatchItem:
    return BatchItem(
        log_id=log_id(received),
        received=received,
        intent=None,
        rejection=rejection,
        received_at=datetime.now(UTC),
    )


def partition_for(intent: Intent) -> int:
    return partition_of(intent.partition_key, PARTITIONS)


async def apply(connection: asyncpg.Connection, *intents: Intent) -> list[Outcome]:
    """Apply the intents as one batch on the first intent's partition; their outcomes."""
    result = await apply_batch(connection, partition_for(intents[0]), [to_item(i) for i in intents])
    return result.outcomes


async def apply_items(connection: asyncpg.Connection, items: Sequence[BatchItem]) -> list[Outcome]:
    assert items[0].intent is not None
    result = await apply_batch(connection, partition_for(items[0].intent), items)
    return result.outcomes


async def apply_one(connection: asyncpg.Connection, intent: Intent) -> FinalOutcome:
    (outcome,) = await apply(connection, intent)
    assert outcome.status != "duplicate"
    return outcome


async def applied_version(connection: asyncpg.Connection, intent: Intent) -> int:
    """Apply one intent, insist it was applied, return its version."""
    outcome = await apply_one(connection, intent)
    assert isinstance(outcome, Applied), outcome
    assert outcome.version is not None
    return outcome.version


async def setup_draft(
    connection: asyncpg.Connection,
    pkg: str = "pkg",
    rev: str = "pkg-v1",
    resources: dict[str, str] | None = None,
    ns: str = NS,
    **kw: Any,
) -> int:
    """A repository (if absent) and a Draft revision; returns the revision's version."""
    await apply(connection, make_repository(ns))  # already_exists when present: fine
    return await applied_version(connection, make_create(ns, pkg, rev, resources, **kw))
