"""Send outcomes to the producers' reply queues: best effort, after the commit and the ack.

An outcome that cannot be delivered is not lost: it is in the intent log, and re-sending the
intent returns it as `duplicate`.
"""

from __future__ import annotations

import aio_pika
import aiormq
import structlog
from aio_pika.abc import AbstractChannel

from messages.outcomes import Outcome

log = structlog.get_logger(__name__)


async def send_outcome(
    channel: AbstractChannel, reply_to: str, correlation_id: str, outcome: Outcome
) -> None:
    message = aio_pika.Message(
        outcome.model_dump_json().encode("utf-8"),
        content_type="application/json",
        correlation_id=correlation_id,
        type=outcome.status,
    )
    try:
        await channel.default_exchange.publish(message, routing_key=reply_to, mandatory=False)
    except (aiormq.exceptions.AMQPError, ConnectionError, RuntimeError) as error:
        log.warning("outcome.not_sent", intent_id=str(outcome.intent_id), error=repr(error))
