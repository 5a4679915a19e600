"""From a broker delivery to a batch item: decode, authorize, never raise."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aio_pika.abc import AbstractIncomingMessage
from pydantic_core import PydanticSerializationError

from messages.envelope import HEADER_REPLAY, Received, decode_intent, log_id
from messages.errors import IntentRejected
from messages.intents import Intent
from messages.limits import Limits
from messages.outcomes import RejectReason
from writer.batch import BatchItem
from writer.roles import Authorizer

# A JSON escape of a UTF-16 surrogate: the only way a body that is valid UTF-8 can decode to text
# that is not (a lone surrogate), which PostgreSQL cannot store and asyncpg cannot even send.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


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
        intent = _decode(received, limits)
    except IntentRejected as rejection:
        return BatchItem(log_id(received), received, None, storable(rejection), now, replay)
    forbidden = authorizer.check(received.user_id, intent.kind)
    if forbidden is not None:
        return BatchItem(intent.intent_id, received, None, storable(forbidden), now, replay)
    return BatchItem(intent.intent_id, received, intent, None, now, replay)


def _decode(received: Received, limits: Limits) -> Intent:
    """`decode_intent`, with every other way a hostile body can fail turned into a rejection.

    Whatever escapes here would crash the partition on every redelivery until the broker
    dead-letters the delivery, together with the good intents batched with it.
    """
    try:
        intent = decode_intent(received, limits)
    except IntentRejected:
        raise
    except RecursionError:
        raise IntentRejected(
            RejectReason.INVALID_JSON, "the body is nested too deeply to decode"
        ) from None
    except UnicodeError as error:
        raise IntentRejected(RejectReason.INVALID_INTENT, _not_unicode(error)) from None
    except Exception as error:  # a bad delivery must never crash the partition
        raise IntentRejected(
            RejectReason.INVALID_INTENT, f"could not be decoded: {type(error).__name__}: {error}"
        ) from None
    if _SURROGATE_ESCAPE.search(received.body):
        try:
            intent.model_dump_json()
        except PydanticSerializationError as error:
            raise IntentRejected(RejectReason.INVALID_INTENT, _not_unicode(error)) from None
    return intent


def _not_unicode(error: Exception) -> str:
    return f"the intent holds text that is not valid Unicode (a lone surrogate): {error}"


def storable(rejection: IntentRejected) -> IntentRejected:
    """The rejection with a message PostgreSQL can store: it may quote the delivery, and text
    columns hold neither NUL nor lone surrogates."""
    message = rejection.message.replace("\x00", "\\x00")
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    if message == rejection.message:
        return rejection
    return IntentRejected(rejection.reason, message)
