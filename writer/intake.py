"""From a broker delivery to a batch item: decode, authorize, never raise."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aio_pika.abc import AbstractIncomingMessage

from messages.envelope import HEADER_REPLAY, Received, decode_intent, log_id
from messages.errors import IntentRejected
from messages.limits import Limits
from writer.batch import BatchItem
from writer.roles import Authorizer


def _plain(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def received_from(message: AbstractIncomingMessage) -> Received:
    headers: Mapping[str, Any] = {key: _plain(value) for key, value in message.headers.items()}
    return Received(
        body=message.body,
        content_type=message.content_type,
        message_id=message.message_id,
        type=message.type,
        user_id=message.user_id,
        headers=headers,
    )


def batch_item(received: Received, limits: Limits, authorizer: Authorizer) -> BatchItem:
    """Judge a delivery before the database sees it; a rejection travels with the item."""
    replay = bool(received.headers.get(HEADER_REPLAY))
    now = datetime.now(UTC)
    try:
        intent = decode_intent(received, limits)
    except IntentRejected as rejection:
        return BatchItem(log_id(received), received, None, rejection, now, replay)
    forbidden = authorizer.check(received.user_id, intent.kind)
    if forbidden is not None:
        return BatchItem(intent.intent_id, received, None, forbidden, now, replay)
    return BatchItem(intent.intent_id, received, intent, None, now, replay)
