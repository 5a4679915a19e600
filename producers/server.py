"""The API server's face: one method per server-side write, each waiting for its outcome."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from messages.fields import Lifecycle, ProducerRole
from messages.intents import (
    ExternalRevisionSync,
    Intent,
    LifecycleChange,
    MetadataSet,
    PlaceholderUpsert,
    RepositoryRegister,
    RepositoryRemove,
    RepositoryUpdate,
    ResourcesUpdate,
    RevisionCreate,
    RevisionDelete,
    RevisionPublish,
)
from messages.outcomes import Outcome
from producers.publisher import Publisher


def stamp(role: ProducerRole) -> dict[str, Any]:
    """The fields every new intent gets: a fresh id, the producer role, the time of issue."""
    return {"intent_id": uuid.uuid4(), "producer": role, "issued_at": datetime.now(UTC)}


class ServerProducer:
    """Writes of porch's API server. Every method returns the writer's outcome.

    A `PublishError` means the broker did not confirm the intent; an `OutcomeTimeout` means it
    did, and the outcome is late. Either way, re-sending the same intent (`send`) is safe.
    """

    def __init__(self, publisher: Publisher, *, timeout: float | None = None) -> None:
        self._publisher = publisher
        self._timeout = timeout

    async def send(self, intent: Intent) -> Outcome:
        return await self._publisher.request(intent, timeout=self._timeout)

    async def register_repository(
        self,
        namespace: str,
        repository: str,
        *,
        directory: str = "",
        default_ws_name: str = "",
        meta: str = "{}",
        spec: str = "{}",
        deployment: bool = False,
    ) -> Outcome:
        return await self.send(
            RepositoryRegister(
                **stamp(ProducerRole.SERVER),
                namespace=namespace,
                repository=repository,
                directory=directory,
                default_ws_name=default_ws_name,
                meta=meta,
                spec=spec,
                deployment=deployment,
            )
        )

    async def update_repository(
        self, namespace: str, repository: str, *, meta: str, spec: str, deployment: bool = False
    ) -> Outcome:
        return await self.send(
            RepositoryUpdate(
                **stamp(ProducerRole.SERVER),
                namespace=namespace,
                repository=repository,
                meta=meta,
                spec=spec,
                deployment=deployment,
            )
        )

    async def remove_repository(self, namespace: str, repository: str) -> Outcome:
        return await self.send(
            RepositoryRemove(
                **stamp(ProducerRole.SERVER), namespace=namespace, repository=repository
            )
        )

    async def create_revision(
        self,
        namespace: str,
        package: str,
        revision_name: str,
        *,
        repository: str,
        package_path: str,
        resources: dict[str, str],
        lifecycle: Literal[Lifecycle.DRAFT, Lifecycle.PROPOSED] = Lifecycle.DRAFT,
        meta: str = "{}",
        spec: str = "{}",
        tasks: str = "[]",
        requests_render: bool = False,
    ) -> Outcome:
        return await self.send(
            RevisionCreate(
                **stamp(ProducerRole.SERVER),
                namespace=namespace,
                package=package,
                revision_name=revision_name,
                repository=repository,
                package_path=package_path,
                lifecycle=lifecycle,
                meta=meta,
                spec=spec,
                tasks=tasks,
                resources=resources,
                requests_render=requests_render,
            )
        )

    async def update_resources(
        self,
        namespace: str,
        package: str,
        revision_name: str,
        resources: dict[str, str],
        *,
        expected_version: int | None = None,
        requests_render: bool = False,
    ) -> Outcome:
        """A user's push of the full resource set (PackageRevisionResources Update)."""
        return await self.send(
            ResourcesUpdate(
                **stamp(ProducerRole.SERVER),
                namespace=namespace,
                package=package,
                revision_name=revision_name,
                resources=resources,
                expected_version=expected_version,
                requests_render=requests_render,
            )
        )

    async def change_lifecycle(
        self,
        namespace: str,
        package: str,
        revision_name: str,
        lifecycle: Lifecycle,
        *,
        expected_version: int | None = None,
    ) -> Outcome:
        return await self.send(
            LifecycleChange(
                **stamp(ProducerRole.SERVER),
                namespace=namespace,
                package=package,
                revision_name=revision_name,
                lifecycle=lifecycle,
                expected_version=expected_version,
            )
        )

    async def publish(
        self,
        namespace: str,
        package: str,
        revision_name: str,
        *,
        expected_version: int | None = None,
    ) -> Outcome:
        return await self.send(
            RevisionPublish(
                **stamp(ProducerRole.SERVER),
                namespace=namespace,
                package=package,
                revision_name=revision_name,
                expected_version=expected_version,
            )
        )

    async def set_metadata(
        self,
        namespace: str,
        package: str,
        revision_name: str,
        *,
        meta: str | None = None,
        spec: str | None = None,
        tasks: str | None = None,
        kptfile_status: str | None = None,
        expected_version: int | None = None,
    ) -> Outcome:
        return await self.send(
            MetadataSet(
                **stamp(ProducerRole.SERVER),
                namespace=namespace,
                package=package,
                revision_name=revision_name,
                meta=meta,
                spec=spec,
                tasks=tasks,
                kptfile_status=kptfile_status,
                expected_version=expected_version,
            )
        )

    async def delete_revision(
        self,
        namespace: str,
        package: str,
        revision_name: str,
        *,
        expected_version: int | None = None,
    ) -> Outcome:
        return await self.send(
            RevisionDelete(
                **stamp(ProducerRole.SERVER),
                namespace=namespace,
                package=package,
                revision_name=revision_name,
                expected_version=expected_version,
            )
        )

    async def upsert_placeholder(
        self,
        namespace: str,
        package: str,
        revision_name: str,
        *,
        repository: str,
        package_path: str,
        resources: dict[str, str],
        meta: str = "{}",
        spec: str = "{}",
        tasks: str = "[]",
    ) -> Outcome:
        return await self.send(
            PlaceholderUpsert(
                **stamp(ProducerRole.SERVER),
                namespace=namespace,
                package=package,
                revision_name=revision_name,
                repository=repository,
                package_path=package_path,
                resources=resources,
                meta=meta,
                spec=spec,
                tasks=tasks,
            )
        )

    async def sync_external_revision(
        self,
        namespace: str,
        package: str,
        revision_name: str,
        *,
        repository: str,
        package_path: str,
        revision: int,
        resources: dict[str, str],
        lifecycle: Literal[Lifecycle.PUBLISHED, Lifecycle.DELETION_PROPOSED] = Lifecycle.PUBLISHED,
        ext_pr_id: str = "{}",
        meta: str = "{}",
        spec: str = "{}",
        tasks: str = "[]",
    ) -> Outcome:
        return await self.send(
            ExternalRevisionSync(
                **stamp(ProducerRole.SERVER),
                namespace=namespace,
                package=package,
                revision_name=revision_name,
                repository=repository,
                package_path=package_path,
                revision=revision,
                lifecycle=lifecycle,
                ext_pr_id=ext_pr_id,
                meta=meta,
                spec=spec,
                tasks=tasks,
                resources=resources,
            )
        )
