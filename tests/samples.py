"""One valid intent of every kind, for contract tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from messages import (
    ExternalRevisionSync,
    Intent,
    Lifecycle,
    LifecycleChange,
    MetadataSet,
    PlaceholderUpsert,
    ProducerRole,
    RenderResult,
    RepositoryRegister,
    RepositoryRemove,
    RepositoryUpdate,
    ResourcesUpdate,
    RevisionCreate,
    RevisionDelete,
    RevisionPublish,
)

NS, REPO, PKG, REV = "ns", "repo", "repo.pkg", "repo.pkg.ws1"
RESOURCES = {"Kptfile": "apiVersion: kpt.dev/v1\nkind: Kptfile\n", "cm/config.yaml": "data: 1\n"}


def base(role: ProducerRole = ProducerRole.SERVER) -> dict[str, Any]:
    return {"intent_id": uuid.uuid4(), "producer": role, "issued_at": datetime.now(UTC)}


def revision_fields() -> dict[str, Any]:
    return {"namespace": NS, "package": PKG, "revision_name": REV}


def one_of_each_kind() -> list[Intent]:
    server, render = base(), base(ProducerRole.RENDER)
    return [
        RepositoryRegister(**base(), namespace=NS, repository=REPO, directory="/", meta='{"a":1}'),
        RepositoryUpdate(**base(), namespace=NS, repository=REPO, meta="{}", spec="{}"),
        RepositoryRemove(**base(), namespace=NS, repository=REPO),
        RevisionCreate(
            **server,
            **revision_fields(),
            repository=REPO,
            package_path="pkg",
            resources=RESOURCES,
            requests_render=True,
        ),
        ResourcesUpdate(**base(), **revision_fields(), resources=RESOURCES, expected_version=7),
        RenderResult(
            **render,
            **revision_fields(),
            resources=RESOURCES,
            base_version=8,
            render_request="render-1",
            kptfile_status='{"conditions":[]}',
        ),
        LifecycleChange(**base(), **revision_fields(), lifecycle=Lifecycle.PROPOSED),
        RevisionPublish(**base(), **revision_fields()),
        MetadataSet(**base(), **revision_fields(), meta='{"labels":{"x":"y"}}'),
        RevisionDelete(**base(), **revision_fields()),
        PlaceholderUpsert(
            **base(),
            namespace=NS,
            package=PKG,
            revision_name="repo.pkg.main",
            repository=REPO,
            package_path="pkg",
            resources=RESOURCES,
        ),
        ExternalRevisionSync(
            **base(),
            namespace=NS,
            package=PKG,
            revision_name="repo.pkg.v1",
            repository=REPO,
            package_path="pkg",
            revision=1,
            resources=RESOURCES,
        ),
    ]
