"""Deliveries the broker dead-lettered: recorded with their reason, listed, marked replayed.

A dead-lettered delivery that was never applied gets a `dead_lettered` intent-log row, so a
producer waiting for its outcome can be told; replaying it (HEADER_REPLAY) applies it and
overwrites that row. One that was applied already keeps its outcome.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime

from pydantic import ValidationError

from messages.envelope import Received, body_digest, log_id
from messages.intents import INTENT_ADAPTER, Intent, RevisionIntent
from messages.outcomes import DeadLettered
from writer.batch import subject_of
from writer.gateway import Connection, Gateway
from writer.rows import DeadLetterRow, NewDeadLetter


def _decoded(received: Received) -> Intent | None:
    """The intent, when the body holds one; dead letters are often unreadable ones."""
    try:
        return INTENT_ADAPTER.validate_json(received.body)
    except ValidationError:
        return None


def _as_json(value: Mapping[str, object]) -> str:
    # AMQP headers may hold bytes, datetimes or decimals: keep them readable, never fail here.
    return json.dumps(_without_nul(dict(value)), default=str, sort_keys=True)


def _without_nul(value: object) -> object:
    """jsonb refuses the \\u0000 escape: a NUL in a header or property is stored as text."""
    if isinstance(value, str):
        return value.replace("\x00", "\\x00")
    if isinstance(value, Mapping):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(item) for item in value]
    return value


def dead_letter_row(
    received: Received,
    *,
    queue: str | None,
    partition: int | None,
    reason: str,
    death_count: int | None,
    properties: Mapping[str, object],
    received_at: datetime | None = None,
) -> NewDeadLetter:
    intent = _decoded(received)
    record_id = log_id(received)
    message = f"dead-lettered from {queue or 'an unknown queue'} ({reason})" + (
        f" after {death_count} deliveries" if death_count is not None else ""
    )
    outcome = DeadLettered(intent_id=record_id, reason=reason, message=message)
    return NewDeadLetter(
        log_id=record_id,
        intent_id=intent.intent_id if intent else None,
        queue=queue,
        partition=partition,
        kind=intent.kind if intent else None,
        reason=reason,
        death_count=death_count,
        properties_json=_as_json(properties),
        headers_json=_as_json(received.headers),
        body=received.body,
        namespace=intent.namespace if intent else None,
        name=subject_of(intent),
        revision_name=intent.revision_name if isinstance(intent, RevisionIntent) else None,
        producer_user=received.user_id,
        producer_role=intent.producer.value if intent else None,
        message=message,
        outcome_json=outcome.model_dump_json(),
        body_digest=body_digest(received.body),
        received_at=received_at,
    )


async def list_dead_letters(
    connection: Connection, *, include_replayed: bool = False
) -> list[DeadLetterRow]:
    return await Gateway(connection).list_dead_letters(include_replayed=include_replayed)


async def mark_replayed(connection: Connection, ids: Iterable[int]) -> list[int]:
    return await Gateway(connection).mark_replayed(ids)
