"""Setting a revision's metadata columns. Never touches `resources` (guarantee 6)."""

from __future__ import annotations

from messages.intents import MetadataSet
from messages.outcomes import FinalOutcome
from writer.apply.common import ApplyContext, applied, load_at_expected
from writer.gateway import Gateway
from writer.rows import RevisionRow


async def set_metadata(
    gateway: Gateway, intent: MetadataSet, context: ApplyContext
) -> FinalOutcome:
    row = await load_at_expected(gateway, intent)
    if not isinstance(row, RevisionRow):
        return row
    version = await gateway.update_metadata(
        intent.namespace,
        intent.revision_name,
        meta=intent.meta,
        spec=intent.spec,
        tasks=intent.tasks,
        kptfile_status=intent.kptfile_status,
        updated_by=context.updated_by,
    )
    return applied(intent, version)
