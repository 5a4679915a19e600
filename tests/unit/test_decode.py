"""Bad deliveries are refused with the reason code and a message that names what is wrong."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from messages import Limits, Received, RejectReason, decode_intent, encode_intent
from messages.envelope import log_id
from messages.errors import IntentRejected
from messages.fields import resource_key_problem
from tests.samples import one_of_each_kind

PUSH = one_of_each_kind()[4]
SMALL = Limits(max_key_bytes=16, max_value_bytes=32, max_resources=3, max_intent_bytes=4096)


def delivery(body: bytes | dict[str, Any], **properties: Any) -> Received:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    envelope = encode_intent(PUSH)
    fields: dict[str, Any] = {
        "body": raw,
        "content_type": "application/json",
        "message_id": envelope.message_id,
        "type": envelope.type,
        "headers": envelope.headers,
    }
    fields.update(properties)
    return Received(**fields)


def push_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(PUSH.model_dump_json())
    body.update(changes)
    return body


def rejection(received: Received, limits: Limits = SMALL) -> IntentRejected:
    with pytest.raises(IntentRejected) as caught:
        decode_intent(received, limits)
    return caught.value


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("../x", "'..'"),
        ("a/../../etc/passwd", "'..'"),
        ("/etc/passwd", "absolute"),
        ("a\x00b", "control"),
        ("a\nb", "control"),
        ("a\x7fb", "control"),
        ("", "empty"),
        ("a//b", "empty"),
        ("./a", "'.'"),
        ("a\\b", "backslash"),
    ],
)
def test_unsafe_resource_keys_are_refused(key: str, problem: str) -> None:
    error = rejection(delivery(push_body(resources={key: "x", "Kptfile": "k"})))
    assert error.reason is RejectReason.UNSAFE_KEY
    assert problem in error.message
    assert f"unsafe resource key {key!r}" in error.message


def test_a_key_over_the_byte_limit_is_refused() -> None:
    error = rejection(delivery(push_body(resources={"k" * 17: "x"})))
    assert error.reason is RejectReason.UNSAFE_KEY
    assert "17 bytes, over the limit of 16" in error.message


def test_the_key_limit_counts_utf8_bytes() -> None:
    error = rejection(delivery(push_body(resources={"é" * 9: "x"})))
    assert "18 bytes" in error.message


def test_a_value_over_the_limit_is_refused_and_named() -> None:
    error = rejection(delivery(push_body(resources={"big.yaml": "v" * 33})))
    assert error.reason is RejectReason.TOO_LARGE
    assert "'big.yaml' is 33 bytes, over the limit of 32" in error.message


def test_too_many_resources_are_refused() -> None:
    error = rejection(delivery(push_body(resources={f"r{i}": "x" for i in range(4)})))
    assert error.reason is RejectReason.TOO_LARGE
    assert "4 resources, over the limit of 3" in error.message


def test_an_intent_over_the_size_limit_is_refused_before_parsing() -> None:
    error = rejection(delivery(b"{" + b" " * 5000))
    assert error.reason is RejectReason.TOO_LARGE
    assert "over the limit of 4096 bytes" in error.message


def test_within_the_limits_is_accepted() -> None:
    resources = {"k" * 16: "v" * 32, "Kptfile": "x"}
    assert decode_intent(delivery(push_body(resources=resources)), SMALL).kind == "resources_update"


@pytest.mark.parametrize(
    ("received", "reason", "named"),
    [
        (delivery(b"not json"), RejectReason.INVALID_JSON, "not JSON"),
        (delivery(b"\xff\xfe"), RejectReason.INVALID_JSON, "not JSON"),
        (delivery(b"[1, 2]"), RejectReason.INVALID_INTENT, "JSON object"),
        (
            delivery(push_body(), content_type="text/plain"),
            RejectReason.INVALID_CONTENT_TYPE,
            "text/plain",
        ),
        (delivery(push_body(), content_type=None), RejectReason.INVALID_CONTENT_TYPE, "None"),
        (delivery(push_body(kind="resources_smash")), RejectReason.UNKNOWN_KIND, "resources_smash"),
        (delivery(push_body(kind=None)), RejectReason.UNKNOWN_KIND, "None"),
        (
            delivery(push_body(schema_version=2)),
            RejectReason.UNSUPPORTED_SCHEMA_VERSION,
            "schema_version 2",
        ),
        (delivery(push_body(schema_version=0)), RejectReason.INVALID_INTENT, "schema_version"),
        (delivery(push_body(extra=1)), RejectReason.INVALID_INTENT, "extra"),
        (
            delivery(push_body(expected_version="seven")),
            RejectReason.INVALID_INTENT,
            "expected_version",
        ),
        (delivery(push_body(expected_version=-1)), RejectReason.INVALID_INTENT, "expected_version"),
        (
            delivery(push_body(namespace="Not_A_Namespace")),
            RejectReason.INVALID_INTENT,
            "namespace",
        ),
        (
            delivery(push_body(issued_at="2026-01-01T00:00:00")),
            RejectReason.INVALID_INTENT,
            "issued_at",
        ),
        (delivery(push_body(resources={"a": 1})), RejectReason.INVALID_INTENT, "resources.a"),
        (
            delivery({k: v for k, v in push_body().items() if k != "revision_name"}),
            RejectReason.INVALID_INTENT,
            "revision_name",
        ),
        (
            delivery(push_body(), message_id="other"),
            RejectReason.INCONSISTENT_ENVELOPE,
            "message_id",
        ),
        (
            delivery(push_body(), type="render_result"),
            RejectReason.INCONSISTENT_ENVELOPE,
            "message type",
        ),
        (
            delivery(push_body(), headers={"x-package-key": "ns/other"}),
            RejectReason.INCONSISTENT_ENVELOPE,
            "x-package-key",
        ),
    ],
)
def test_malformed_deliveries_are_refused_with_a_reason(
    received: Received, reason: RejectReason, named: str
) -> None:
    error = rejection(received, Limits())
    assert error.reason is reason
    assert named in error.message


def test_json_text_fields_must_hold_json() -> None:
    body = json.loads(one_of_each_kind()[8].model_dump_json())
    body["meta"] = "{not json"
    envelope = encode_intent(one_of_each_kind()[8])
    received = Received(
        body=json.dumps(body).encode(),
        content_type="application/json",
        message_id=body["intent_id"],
        type="metadata_set",
        headers=envelope.headers,
    )
    error = rejection(received, Limits())
    assert error.reason is RejectReason.INVALID_INTENT
    assert "meta" in error.message


def test_an_unreadable_delivery_gets_a_stable_log_id() -> None:
    first = delivery(b"not json", message_id=None)
    assert log_id(first) == log_id(delivery(b"not json", message_id=None))
    assert log_id(first) != log_id(delivery(b"not json either", message_id=None))
    assert str(log_id(delivery(b"x"))) == delivery(b"x").message_id


def _reference_key_problem(key: str) -> bool:
    """The plain definition the fast check must agree with."""
    parts = key.split("/")
    return (
        key == ""
        or any(ord(char) < 0x20 or ord(char) == 0x7F for char in key)
        or key.startswith("/")
        or "\\" in key
        or any(part in ("", ".", "..") for part in parts)
    )


@given(st.text(alphabet=st.sampled_from(["a", "b", ".", "/", "\\", "\x00", "\n", "é", "-"])))
def test_the_fast_key_check_agrees_with_the_plain_definition(key: str) -> None:
    assert (resource_key_problem(key) is not None) == _reference_key_problem(key)
