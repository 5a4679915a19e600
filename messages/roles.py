"""Which intent kinds each producer role may send.

The writer maps a broker user (validated by RabbitMQ through `user_id`) to roles or kinds;
render code may only write render results back.
"""

from __future__ import annotations

from messages.fields import ProducerRole
from messages.intents import INTENT_KINDS

ROLE_KINDS: dict[ProducerRole, frozenset[str]] = {
    ProducerRole.SERVER: INTENT_KINDS - {"render_result"},
    ProducerRole.RENDER: frozenset({"render_result"}),
}


def kinds_for(grants: list[str]) -> frozenset[str]:
    """Expand a user's grants (role names, kind names, or `*`) into intent kinds."""
    kinds: set[str] = set()
    for grant in grants:
        if grant == "*":
            kinds |= INTENT_KINDS
        elif grant in ROLE_KINDS:
            kinds |= ROLE_KINDS[ProducerRole(grant)]
        elif grant in INTENT_KINDS:
            kinds.add(grant)
        else:
            known = sorted([*(role.value for role in ProducerRole), *INTENT_KINDS, "*"])
            raise ValueError(f"unknown role or intent kind {grant!r}; known: {', '.join(known)}")
    return frozenset(kinds)
