"""Every intent kind round-trips through the wire format unchanged."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from messages import INTENT_ADAPTER, INTENT_KINDS, Intent, Received, decode_intent, encode_intent
from messages.limits import Limits
from tests.samples import one_of_each_kind


def received(intent: Intent) -> Received:
    envelope = encode_intent(intent)
    return Received(
        body=envelope.body,
        content_type=envelope.content_type,
        message_id=envelope.message_id,
        type=envelope.type,
        user_id="guest",
        headers=envelope.headers,
    )


def test_the_samples_cover_every_kind() -> None:
    assert {intent.kind for intent in one_of_each_kind()} == INTENT_KINDS


@pytest.mark.parametrize("intent", one_of_each_kind(), ids=lambda intent: intent.kind)
def test_every_kind_round_trips_through_json(intent: Intent) -> None:
    assert decode_intent(received(intent), Limits()) == intent
    assert INTENT_ADAPTER.validate_json(intent.model_dump_json()) == intent


@pytest.mark.parametrize("intent", one_of_each_kind(), ids=lambda intent: intent.kind)
def test_the_envelope_carries_id_kind_and_package_key(intent: Intent) -> None:
    envelope = encode_intent(intent)
    assert envelope.message_id == str(intent.intent_id)
    assert envelope.type == intent.kind
    assert envelope.content_type == "application/json"
    assert envelope.headers == {
        "x-schema-version": 1,
        "x-package-key": intent.partition_key,
    }
    assert json.loads(envelope.body)["kind"] == intent.kind


def test_intents_are_frozen() -> None:
    intent = one_of_each_kind()[4]
    with pytest.raises(ValidationError, match="frozen"):
        intent.namespace = "other"  # type: ignore[misc]


def test_unknown_fields_are_refused() -> None:
    raw = json.loads(one_of_each_kind()[4].model_dump_json())
    raw["surprise"] = 1
    with pytest.raises(ValidationError, match="surprise"):
        INTENT_ADAPTER.validate_python(raw)


def test_the_partition_key_is_the_package_not_the_revision() -> None:
    intents = one_of_each_kind()
    package_keys = {i.partition_key for i in intents if hasattr(i, "package")}
    assert package_keys == {"ns/repo.pkg"}
