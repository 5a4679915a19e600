"""The wire contract's one exception: an intent that cannot be accepted, with its reason code."""

from __future__ import annotations

from uuid import UUID

from messages.outcomes import Rejected, RejectReason


class IntentRejected(Exception):
    """The intent breaks the wire contract or a limit."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message

    def outcome(self, intent_id: UUID) -> Rejected:
        return Rejected(intent_id=intent_id, reason=self.reason, message=self.message)
