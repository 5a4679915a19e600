"""The load test's exceptions: one base, a docstring as the default message."""

from __future__ import annotations


class LoadTestError(Exception):
    """The load test could not run."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class SetupError(LoadTestError):
    """The run's repository and packages could not be created."""


class WriterProcessError(LoadTestError):
    """A writer subprocess failed to start, to become ready, or to stop cleanly."""


class NoWriter(LoadTestError):
    """No writer consumes the partition queues (--external-writer was given)."""
