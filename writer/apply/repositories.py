"""Repository intents: register, update, remove (removal cascades to packages and revisions)."""

from __future__ import annotations

from messages.intents import (
    RepositoryIntent,
    RepositoryRegister,
    RepositoryRemove,
    RepositoryUpdate,
)
from messages.outcomes import FinalOutcome, RejectReason
from messages.partition import package_key, package_lock_key
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
    """The removal cascades into packages that other partitions write: wait for their writers
    first (their package locks), so no writer sees its revision vanish mid-transaction."""
    packages = await gateway.fetch_repository_packages(intent.namespace, intent.repository)
    if packages:
        keys = sorted({package_lock_key(package_key(intent.namespace, p)) for p in packages})
        await gateway.lock_packages(keys)
    if not await gateway.delete_repository(intent.namespace, intent.repository):
        return rejected(intent, RejectReason.UNKNOWN_REPOSITORY, f"no {_label(intent)}")
    return applied(intent, None)
