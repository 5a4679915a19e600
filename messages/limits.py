"""Size limits on intents, checked by producers before publishing and by the writer on receipt."""

from __future__ import annotations

from dataclasses import dataclass

from messages.errors import IntentRejected
from messages.outcomes import RejectReason

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_key_bytes: int = 1024
    max_value_bytes: int = 4 * MIB
    max_resources: int = 10_000
    max_intent_bytes: int = 64 * MIB


def check_body_size(size: int, limits: Limits) -> None:
    if size > limits.max_intent_bytes:
        raise IntentRejected(
            RejectReason.TOO_LARGE,
            f"intent is {size} bytes, over the limit of {limits.max_intent_bytes} bytes",
        )


def check_resources(resources: dict[str, str], limits: Limits) -> None:
    """Reject the first resource set that breaks a limit, naming the key and the limit."""
    if len(resources) > limits.max_resources:
        raise IntentRejected(
            RejectReason.TOO_LARGE,
            f"{len(resources)} resources, over the limit of {limits.max_resources}",
        )
    for key, value in resources.items():
        key_bytes = len(key.encode("utf-8"))
        if key_bytes > limits.max_key_bytes:
            raise IntentRejected(
                RejectReason.UNSAFE_KEY,
                f"resource key {key[:80]!r}... is {key_bytes} bytes, "
                f"over the limit of {limits.max_key_bytes} bytes",
            )
        value_bytes = len(value.encode("utf-8"))
        if value_bytes > limits.max_value_bytes:
            raise IntentRejected(
                RejectReason.TOO_LARGE,
                f"resource {key!r} is {value_bytes} bytes, "
                f"over the limit of {limits.max_value_bytes} bytes",
            )
