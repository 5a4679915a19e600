"""How an intent travels: the AMQP properties and headers around its JSON body.

Broker-agnostic on purpose: producers turn an `Envelope` into an aio-pika message, and the
writer turns what it received into a `Received` before `decode_intent` judges it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid5

from pydantic import ValidationError

from messages.errors import IntentRejected
from messages.fields import SCHEMA_VERSION
from messages.intents import INTENT_ADAPTER, INTENT_KINDS, Intent
from messages.limits import Limits, check_body_size, check_resources
from messages.outcomes import RejectReason

CONTENT_TYPE = "application/json"
HEADER_SCHEMA_VERSION = "x-schema-version"
HEADER_PACKAGE_KEY = "x-package-key"
HEADER_REPLAY = "x-porch-replay"
"""Set by `porch-writer dlq replay`: apply this intent although it was dead-lettered."""

_UNREADABLE_ID_NAMESPACE = UUID("8f5c2c4e-3c41-4f57-9a0e-2f1f4d7f6b10")


@dataclass(frozen=True)
class Envelope:
    body: bytes
    message_id: str
    type: str
    headers: dict[str, str | int]
    partition_key: str
    content_type: str = CONTENT_TYPE


@dataclass(frozen=True)
class Received:
    """The parts of a delivery that the contract speaks about."""

    body: bytes
    content_type: str | None = None
    message_id: str | None = None
    type: str | None = None
    user_id: str | None = None
    headers: Mapping[str, Any] = field(default_factory=dict)


def encode_intent(intent: Intent) -> Envelope:
    return Envelope(
        body=intent.model_dump_json().encode("utf-8"),
        message_id=str(intent.intent_id),
        type=intent.kind,
        headers={
            HEADER_SCHEMA_VERSION: intent.schema_version,
            HEADER_PACKAGE_KEY: intent.partition_key,
        },
        partition_key=intent.partition_key,
    )


def log_id(received: Received) -> UUID:
    """The id a delivery is recorded under: its message id, or one derived from its bytes.

    Deriving it from the body keeps a redelivered unreadable message a duplicate of itself.
    """
    if received.message_id is not None:
        try:
            return UUID(received.message_id)
        except ValueError:
            pass
    digest = hashlib.sha256(received.body).hexdigest()
    return uuid5(_UNREADABLE_ID_NAMESPACE, f"{received.message_id}:{digest}")


def reused_id(intent_id: UUID, body: bytes) -> UUID:
    """The id under which a second, different body that reuses `intent_id` is recorded."""
    return uuid5(_UNREADABLE_ID_NAMESPACE, f"reused:{intent_id}:{body_digest(body)}")


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def decode_intent(received: Received, limits: Limits) -> Intent:
    """The intent in a delivery, or `IntentRejected` naming the first thing that is wrong."""
    check_body_size(len(received.body), limits)
    _check_content_type(received.content_type)
    try:
        intent = INTENT_ADAPTER.validate_json(received.body)
    except ValidationError:
        # The slow path only for bad input: parse again to name what is wrong.
        intent = _diagnose(received.body)
    _check_envelope(received, intent)
    resources = getattr(intent, "resources", None)
    if resources is not None:
        check_resources(resources, limits)
    return intent


def _diagnose(body: bytes) -> Intent:
    raw = _parse_object(body)
    _check_schema_version(raw)
    _check_kind(raw)
    try:
        return INTENT_ADAPTER.validate_python(raw)
    except ValidationError as error:
        raise _rejection_from(error) from None


def _check_content_type(content_type: str | None) -> None:
    base = (content_type or "").split(";")[0].strip().lower()
    if base != CONTENT_TYPE:
        raise IntentRejected(
            RejectReason.INVALID_CONTENT_TYPE,
            f"content type must be {CONTENT_TYPE!r}, got {content_type!r}",
        )


def _parse_object(body: bytes) -> dict[str, Any]:
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise IntentRejected(RejectReason.INVALID_JSON, f"body is not JSON: {error}") from None
    if not isinstance(raw, dict):
        raise IntentRejected(
            RejectReason.INVALID_INTENT, f"body must be a JSON object, got {type(raw).__name__}"
        )
    return raw


def _check_schema_version(raw: dict[str, Any]) -> None:
    version = raw.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise IntentRejected(
            RejectReason.UNSUPPORTED_SCHEMA_VERSION,
            f"schema_version {version} is newer than {SCHEMA_VERSION}, "
            "the newest this writer reads",
        )


def _check_kind(raw: dict[str, Any]) -> None:
    kind = raw.get("kind")
    if kind not in INTENT_KINDS:
        raise IntentRejected(
            RejectReason.UNKNOWN_KIND,
            f"unknown intent kind {kind!r}; known kinds: {', '.join(sorted(INTENT_KINDS))}",
        )


def _rejection_from(error: ValidationError) -> IntentRejected:
    errors = error.errors(include_url=False, include_input=False)
    unsafe = [item for item in errors if item["type"] == "unsafe_key"]
    reason = RejectReason.UNSAFE_KEY if unsafe else RejectReason.INVALID_INTENT
    shown = unsafe or errors
    summary = "; ".join(
        f"{'.'.join(str(part) for part in item['loc'][1:]) or '<root>'}: {item['msg']}"
        for item in shown[:5]
    )
    more = f" (and {len(shown) - 5} more)" if len(shown) > 5 else ""
    return IntentRejected(reason, summary + more)


def _check_envelope(received: Received, intent: Intent) -> None:
    if received.message_id != str(intent.intent_id):
        raise IntentRejected(
            RejectReason.INCONSISTENT_ENVELOPE,
            f"message_id {received.message_id!r} is not the intent_id {str(intent.intent_id)!r}",
        )
    if received.type != intent.kind:
        raise IntentRejected(
            RejectReason.INCONSISTENT_ENVELOPE,
            f"message type {received.type!r} is not the intent kind {intent.kind!r}",
        )
    header_key = received.headers.get(HEADER_PACKAGE_KEY)
    if header_key is not None and header_key != intent.partition_key:
        raise IntentRejected(
            RejectReason.INCONSISTENT_ENVELOPE,
            f"header {HEADER_PACKAGE_KEY} {header_key!r} is not the intent's key "
            f"{intent.partition_key!r}",
        )
