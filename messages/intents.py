"""Every write the porch DB cache performs, as a frozen intent model (the wire contract).

An intent names one package (namespace + package name) or, for repository intents, one
repository; that key chooses its partition. Field names follow porch's columns.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, TypeAdapter, model_validator

from messages.fields import (
    SCHEMA_VERSION,
    FrozenModel,
    JsonText,
    K8sName,
    Lifecycle,
    Namespace,
    ProducerRole,
    Resources,
    Version,
)
from messages.partition import package_key


class IntentBase(FrozenModel):
    intent_id: UUID = Field(description="Chosen by the producer; a retried publish reuses it")
    schema_version: int = Field(SCHEMA_VERSION, ge=1, le=SCHEMA_VERSION)
    producer: ProducerRole
    issued_at: AwareDatetime
    namespace: Namespace

    @property
    def partition_key(self) -> str:
        raise NotImplementedError


class RepositoryIntent(IntentBase):
    repository: K8sName

    @property
    def partition_key(self) -> str:
        return package_key(self.namespace, self.repository)


class PackageIntent(IntentBase):
    package: K8sName

    @property
    def partition_key(self) -> str:
        return package_key(self.namespace, self.package)


class RevisionIntent(PackageIntent):
    revision_name: K8sName = Field(description="The package revision's k8s_name")


class RepositoryRegister(RepositoryIntent):
    kind: Literal["repository_register"] = "repository_register"
    directory: str = ""
    default_ws_name: str = ""
    meta: JsonText = "{}"
    spec: JsonText = "{}"
    deployment: bool = False


class RepositoryUpdate(RepositoryIntent):
    """`directory` and `default_ws_name` are immutable in porch, so they are not here."""

    kind: Literal["repository_update"] = "repository_update"
    meta: JsonText
    spec: JsonText
    deployment: bool = False


class RepositoryRemove(RepositoryIntent):
    kind: Literal["repository_remove"] = "repository_remove"


class RevisionCreate(RevisionIntent):
    kind: Literal["revision_create"] = "revision_create"
    repository: K8sName
    package_path: str
    lifecycle: Literal[Lifecycle.DRAFT, Lifecycle.PROPOSED] = Lifecycle.DRAFT
    meta: JsonText = "{}"
    spec: JsonText = "{}"
    tasks: JsonText = "[]"
    resources: Resources
    requests_render: bool = Field(False, description="Proposing waits for a render of this")


class ResourcesUpdate(RevisionIntent):
    """A user's push of the full resource set (PackageRevisionResources Update)."""

    kind: Literal["resources_update"] = "resources_update"
    resources: Resources
    expected_version: Version | None = Field(
        None, description="Optimistic concurrency: `conflict` when the revision moved on"
    )
    requests_render: bool = False


class RenderResult(RevisionIntent):
    """The controller's render write-back; `stale` unless the revision is still at base."""

    kind: Literal["render_result"] = "render_result"
    resources: Resources
    base_version: Version = Field(description="The version of the content that was rendered")
    render_request: str = Field(max_length=253, description="The render request it answers")
    kptfile_status: JsonText | None = None


class LifecycleChange(RevisionIntent):
    kind: Literal["lifecycle_change"] = "lifecycle_change"
    lifecycle: Lifecycle
    expected_version: Version | None = None


class RevisionPublish(RevisionIntent):
    kind: Literal["revision_publish"] = "revision_publish"
    expected_version: Version | None = None


class MetadataSet(RevisionIntent):
    kind: Literal["metadata_set"] = "metadata_set"
    meta: JsonText | None = None
    spec: JsonText | None = None
    tasks: JsonText | None = None
    kptfile_status: JsonText | None = None
    expected_version: Version | None = None

    @model_validator(mode="after")
    def _something_to_set(self) -> MetadataSet:
        if (self.meta, self.spec, self.tasks, self.kptfile_status) == (None, None, None, None):
            raise ValueError("metadata_set needs at least one of meta, spec, tasks, kptfile_status")
        return self


class RevisionDelete(RevisionIntent):
    kind: Literal["revision_delete"] = "revision_delete"
    expected_version: Version | None = None


class PlaceholderUpsert(RevisionIntent):
    """Porch's placeholder revision (-1) that tracks a package's branch head."""

    kind: Literal["placeholder_upsert"] = "placeholder_upsert"
    repository: K8sName
    package_path: str
    meta: JsonText = "{}"
    spec: JsonText = "{}"
    tasks: JsonText = "[]"
    resources: Resources


class ExternalRevisionSync(RevisionIntent):
    """A published revision found in the external repository, cached as it is there."""

    kind: Literal["external_revision_sync"] = "external_revision_sync"
    repository: K8sName
    package_path: str
    revision: int = Field(ge=1)
    lifecycle: Literal[Lifecycle.PUBLISHED, Lifecycle.DELETION_PROPOSED] = Lifecycle.PUBLISHED
    ext_pr_id: JsonText = "{}"
    meta: JsonText = "{}"
    spec: JsonText = "{}"
    tasks: JsonText = "[]"
    resources: Resources


Intent = Annotated[
    RepositoryRegister
    | RepositoryUpdate
    | RepositoryRemove
    | RevisionCreate
    | ResourcesUpdate
    | RenderResult
    | LifecycleChange
    | RevisionPublish
    | MetadataSet
    | RevisionDelete
    | PlaceholderUpsert
    | ExternalRevisionSync,
    Field(discriminator="kind"),
]

INTENT_ADAPTER: TypeAdapter[Intent] = TypeAdapter(Intent)

INTENT_KINDS: frozenset[str] = frozenset(
    model.model_fields["kind"].default
    for model in (
        RepositoryRegister,
        RepositoryUpdate,
        RepositoryRemove,
        RevisionCreate,
        ResourcesUpdate,
        RenderResult,
        LifecycleChange,
        RevisionPublish,
        MetadataSet,
        RevisionDelete,
        PlaceholderUpsert,
        ExternalRevisionSync,
    )
)

RESOURCE_WRITING_KINDS = frozenset(
    {
        "revision_create",
        "resources_update",
        "render_result",
        "placeholder_upsert",
        "external_revision_sync",
    }
)
"""Only these kinds touch the `resources` table (guarantee 6)."""
