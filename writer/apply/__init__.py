"""The apply logic: one function per intent kind, found through `HANDLERS`.

Each function takes the gateway, the intent and the context, checks every precondition before
its first write, and returns the final outcome. Database errors propagate to the batch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from messages.intents import Intent
from messages.outcomes import FinalOutcome
from writer.apply import lifecycle, metadata, repositories, resources, revisions, sync
from writer.apply.common import ApplyContext
from writer.gateway import Gateway

# Any: each handler takes its own intent model; the table is keyed by that model's `kind`.
Handler = Callable[[Gateway, Any, ApplyContext], Awaitable[FinalOutcome]]

HANDLERS: dict[str, Handler] = {
    "repository_register": repositories.register,
    "repository_update": repositories.update,
    "repository_remove": repositories.remove,
    "revision_create": revisions.create,
    "resources_update": resources.push,
    "render_result": resources.render,
    "lifecycle_change": lifecycle.change,
    "revision_publish": lifecycle.publish,
    "metadata_set": metadata.set_metadata,
    "revision_delete": revisions.delete,
    "placeholder_upsert": sync.upsert_placeholder,
    "external_revision_sync": sync.sync_external,
}


Planner = Callable[[Gateway, Any, ApplyContext], Awaitable[FinalOutcome | resources.Rewrite]]

PLANNERS: dict[str, Planner] = {
    "resources_update": resources.plan_push,
    "render_result": resources.plan_render,
}
"""The kinds whose write may be deferred and folded with the next pushes (writer.coalesce)."""


async def apply_intent(gateway: Gateway, intent: Intent, context: ApplyContext) -> FinalOutcome:
    return await HANDLERS[intent.kind](gateway, intent, context)


async def plan_intent(
    gateway: Gateway, intent: Intent, context: ApplyContext
) -> FinalOutcome | resources.Rewrite:
    """A rewrite still to be written, for the kinds in PLANNERS; otherwise apply at once."""
    planner = PLANNERS.get(intent.kind)
    if planner is None:
        return await apply_intent(gateway, intent, context)
    return await planner(gateway, intent, context)


__all__ = ["HANDLERS", "PLANNERS", "ApplyContext", "apply_intent", "plan_intent"]
