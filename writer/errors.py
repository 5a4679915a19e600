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
