"""Repository intents: register, update, remove (removal cascades to packages and revisions)."""

from __future__ import annotations

from messages.intents import (
    RepositoryIntent,
    RepositoryRegister,
    RepositoryRemove,
    RepositoryUpdate,
)
from messages.outcomes import FinalOutcome, RejectReason
from writer.apply.common import ApplyContext, applied, rejected
from writer.gateway import Gateway


def _label(intent: RepositoryIntent) -> str:
    return f"repository {intent.namespace}/{intent.repository}"


async def register(
    gateway: Gateway, intent: RepositoryRegister, context: ApplyContext
) -> FinalOutcome:
    version = await gateway.insert_repository(
        intent.namespace,
        intent.repository,
        directory=intent.directory,
        default_ws_name=intent.default_ws_name,
        meta=intent.meta,
        spec=intent.spec,
        deployment=intent.deployment,
        updated_by=context.updated_by,
    )
    if version is None:
        return rejected(intent, RejectReason.ALREADY_EXISTS, f"{_label(intent)} already exists")
    return applied(intent, version)


async def update(gateway: Gateway, intent: RepositoryUpdate, context: ApplyContext) -> FinalOutcome:
    version = await gateway.update_repository(
        intent.namespace,
        intent.repository,
        meta=intent.meta,
        spec=intent.spec,
        deployment=intent.deployment,
        updated_by=context.updated_by,
    )
    if version is None:
        return rejected(intent, RejectReason.UNKNOWN_REPOSITORY, f"no {_label(intent)}")
    return applied(intent, version)


async def remove(gateway: Gateway, intent: RepositoryRemove, context: ApplyContext) -> FinalOutcome:
    if not await gateway.delete_repository(intent.namespace, intent.repository):
        return rejected(intent, RejectReason.UNKNOWN_REPOSITORY, f"no {_label(intent)}")
    return applied(intent, None)
