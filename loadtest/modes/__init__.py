"""The write paths a run can use, behind one interface the actors drive.

- `pipeline`: intents through the producers and the writer daemon (this project).
- `locked`: direct writes under a row lock, multi-row statements (the best database-only fix).
- `direct`: the bug report's fix: DELETE + one INSERT per resource in one transaction.
- `legacy`: porch's write today: autocommit DELETE, then one autocommit INSERT per resource.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from loadtest.ledger import Result


class Mode(StrEnum):
    PIPELINE = "pipeline"
    LOCKED = "locked"
    DIRECT = "direct"
    LEGACY = "legacy"


COMPARE_ORDER = (Mode.PIPELINE, Mode.LOCKED, Mode.DIRECT, Mode.LEGACY)


@dataclass(frozen=True)
class Snapshot:
    """A package revision as a reader saw it."""

    version: int
    lifecycle: str
    resources: dict[str, str]


@dataclass(frozen=True)
class NewRevision:
    package: int
    revision: str
    resources: Mapping[str, str]


class Backend(Protocol):
    """One write path. Every write returns a `Result`; none raises for a domain outcome."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def setup(self, revisions: Sequence[NewRevision]) -> list[Result]:
        """Register the repository and create the first draft of every package."""
        ...

    async def read(self, revision: str) -> Snapshot | None: ...

    async def version(self, revision: str) -> int | None:
        """The revision's current version (porch's resourceVersion), as a GET returns it."""
        ...

    async def push(
        self, package: int, revision: str, resources: Mapping[str, str], expected: int | None
    ) -> Result: ...

    async def render(
        self, package: int, revision: str, resources: Mapping[str, str], base_version: int
    ) -> Result: ...

    async def lifecycle(self, package: int, revision: str, target: str) -> Result: ...

    async def publish(self, package: int, revision: str) -> Result: ...

    async def create_draft(self, draft: NewRevision) -> Result: ...
