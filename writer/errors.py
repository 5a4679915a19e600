"""The writer's exceptions."""

from __future__ import annotations


class WriterError(Exception):
    """The writer cannot go on."""


class BrokerLost(WriterError):
    """The AMQP connection is gone; the daemon reconnects and restarts every partition."""


class ChannelLost(WriterError):
    """A partition's channel closed; its unacked deliveries are back in the queue."""


class SchemaNotReady(WriterError):
    """The database schema is missing or older than this writer: run `porch-writer migrate`."""
