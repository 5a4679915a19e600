"""Errors of the publishing side. Each says what happened to the intent, so callers can decide."""

from __future__ import annotations

from uuid import UUID


class ProducerError(Exception):
    """Publishing or waiting for an outcome failed."""


class TopologyError(ProducerError):
    """The broker's topology cannot be used as configured."""


class TopologyMismatch(TopologyError):
    """What the broker holds differs from this configuration; nothing was changed."""


class PublishError(ProducerError):
    """The broker did not confirm the intent; it may or may not have been enqueued.

    Publishing the same intent again is safe: its id makes the writer apply it once.
    """

    def __init__(self, intent_id: UUID, message: str) -> None:
        super().__init__(f"intent {intent_id}: {message}")
        self.intent_id = intent_id


class Unroutable(PublishError):
    """The broker returned the intent: no queue is bound for its partition."""


class Nacked(PublishError):
    """The broker refused the intent (for example a full queue); it was not enqueued."""


class PublishTimeout(PublishError):
    """No confirm within the publish timeout (the broker may be unreachable)."""


class PublishRefused(PublishError):
    """The broker closed the channel on this publish (for example a forged user_id)."""


class OutcomeTimeout(ProducerError):
    """The intent was confirmed, but its outcome did not arrive in time."""

    def __init__(self, intent_id: UUID, timeout: float) -> None:
        super().__init__(f"intent {intent_id}: no outcome within {timeout}s (it was confirmed)")
        self.intent_id = intent_id
