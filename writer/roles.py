"""Which broker user may send which intent kinds.

RabbitMQ validates `user_id` against the connection's user, so the writer can trust it. A
delivery without one is forbidden: anyone could have sent it.
"""

from __future__ import annotations

import structlog

from messages.errors import IntentRejected
from messages.outcomes import RejectReason
from messages.roles import kinds_for

log = structlog.get_logger(__name__)


class Authorizer:
    def __init__(self, producer_roles: dict[str, list[str]] | None) -> None:
        self._grants = (
            None
            if producer_roles is None
            else {user: kinds_for(grants) for user, grants in producer_roles.items()}
        )

    def warn_if_open(self) -> None:
        if self._grants is None:
            log.warning(
                "roles.allow_everything",
                detail="PORCH_PRODUCER_ROLES is not set: every validated broker user may send "
                "every intent kind. Map users to roles (server, render) in production.",
            )

    def check(self, user_id: str | None, kind: str) -> IntentRejected | None:
        if not user_id:
            return IntentRejected(
                RejectReason.FORBIDDEN,
                "the delivery has no user_id, so the broker did not vouch for its producer",
            )
        if self._grants is None:
            return None
        allowed = self._grants.get(user_id)
        if allowed is None:
            return IntentRejected(
                RejectReason.FORBIDDEN, f"broker user {user_id!r} has no producer role"
            )
        if kind not in allowed:
            return IntentRejected(
                RejectReason.FORBIDDEN, f"broker user {user_id!r} may not send {kind!r} intents"
            )
        return None
