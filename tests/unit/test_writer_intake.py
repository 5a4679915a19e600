"""The writer's intake never raises on a hostile delivery, and never passes on text that the
database cannot store: whatever escaped would crash the partition on every redelivery."""

from __future__ import annotations

import json
from typing import Any

import pytest

from messages import Limits, Received, RejectReason, encode_intent
from tests.factories import make_metadata, make_push, sample_resources
from writer.batch import BatchItem
from writer.intake import batch_item
from writer.roles import Authorizer

PUSH = make_push("ns", "pkg", "pkg-v1", sample_resources())
META = make_metadata("ns", "pkg", "pkg-v1", meta="{}")


def delivery(body: bytes, intent: Any = PUSH) -> Received:
    envelope = encode_intent(intent)
    return Received(
        body=body,
        content_type="application/json",
        message_id=envelope.message_id,
        type=envelope.type,
        user_id="guest",
        headers=envelope.headers,
    )


def changed(intent: Any = PUSH, **changes: Any) -> bytes:
    raw = json.loads(encode_intent(intent).body)
    raw.update(changes)
    return json.dumps(raw).encode()


def judged(received: Received) -> BatchItem:
    return batch_item(received, Limits(), Authorizer(None))


@pytest.mark.parametrize(
    ("case", "body", "intent", "reason"),
    [
        ("nested-array", b"[" * 100_000, PUSH, RejectReason.INVALID_JSON),
        ("nested-object", b'{"a":' * 100_000, PUSH, RejectReason.INVALID_JSON),
        ("nested-json-text", changed(META, meta="[" * 100_000), META, RejectReason.INVALID_JSON),
        ("surrogate-key", changed(resources={"\ud800": "x"}), PUSH, RejectReason.INVALID_INTENT),
        ("surrogate-value", changed(resources={"a": "\udfff"}), PUSH, RejectReason.INVALID_INTENT),
        ("surrogate-text", changed(META, meta='"\ud800"'), META, RejectReason.INVALID_INTENT),
    ],
)
def test_hostile_bodies_are_rejected_not_raised(
    case: str, body: bytes, intent: Any, reason: RejectReason
) -> None:
    item = judged(delivery(body, intent))
    assert item.rejection is not None, case
    assert item.rejection.reason is reason
    assert item.intent is None


def test_a_valid_surrogate_pair_is_accepted() -> None:
    body = changed(resources={"Kptfile": "\U0001f600"})  # json.dumps escapes it as a pair
    assert b"\\ud83d\\ude00" in body
    item = judged(delivery(body))
    assert item.intent is not None


@pytest.mark.parametrize(
    "body",
    [
        changed(resources={"a\x00b": "x"}),  # the key is quoted in the message's field path
        changed(surprise_field_x00=1).replace(b"surprise_field_x00", b"surprise\\u0000"),
        changed(intent_id="\x00" * 36),
    ],
    ids=["nul-key", "nul-extra-field", "nul-intent-id"],
)
def test_rejection_messages_hold_no_nul(body: bytes) -> None:
    item = judged(delivery(body))
    assert item.rejection is not None
    assert "\x00" not in item.rejection.message
    assert "\\x00" in item.rejection.message
