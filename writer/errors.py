"""The writer's exceptions: one base, a docstring as the default message, data on the instance."""

from __future__ import annotations


class WriterError(Exception):
    """The writer failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class RowVanished(WriterError):
    """A row this transaction read and locked is gone: a bug, never a domain outcome."""


class MigrationError(WriterError):
    """The migrations could not be applied."""


class SchemaNotReady(WriterError):
    """The database schema is missing or older than this writer: run `porch-writer migrate`."""


class BrokerLost(WriterError):
    """The AMQP connection is gone; the daemon reconnects and restarts every partition."""


class ChannelLost(WriterError):
    """A partition's channel closed; its unacked deliveries are back in the queue."""
