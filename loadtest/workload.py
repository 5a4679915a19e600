"""The workload: names of a run's objects, each actor's seeded plan, the shared package board.

The same seed gives every actor the same sequence of planned operations in every mode, so the
modes are compared on the same workload. Only timing (which package a render actor is handed)
depends on the run.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from loadtest.content import VARIANTS, Shape, package_label

REPOSITORY = "lt-repo"
T = TypeVar("T")


class OpKind(StrEnum):
    PUSH = "push"
    """A full resource set, with or without the version it was based on."""
    LIFECYCLE = "lifecycle"
    """Draft -> Proposed -> Draft: lifecycle-only changes."""
    PUBLISH = "publish"
    """Draft -> Proposed -> Published, then a new draft revision of the package."""


@dataclass(frozen=True)
class WorkloadSpec:
    shape: Shape = field(default_factory=Shape)
    server_actors: int = 8
    render_actors: int = 8
    hot: int = 8
    """How many packages draw most of the pushes (the overlap is the point)."""
    hot_share: float = 0.75
    expected_share: float = 0.5
    """Pushes that carry the version they read (optimistic concurrency)."""
    lifecycle_share: float = 0.03
    publish_share: float = 0.02
    seed: int = 1

    def __post_init__(self) -> None:
        if self.server_actors < 1 or self.render_actors < 0:
            raise ValueError("at least one server actor, and no negative render actors")
        for name in ("hot_share", "expected_share", "lifecycle_share", "publish_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within 0..1")
        if self.lifecycle_share + self.publish_share > 1.0:
            raise ValueError("lifecycle_share + publish_share must not exceed 1")

    def hot_packages(self) -> list[int]:
        order = list(range(self.shape.packages))
        random.Random(f"{self.seed}:hot").shuffle(order)
        return order[: max(1, min(self.hot, self.shape.packages))]


@dataclass(frozen=True)
class Names:
    """Every object of a run lives in its own namespace, so runs never collide."""

    namespace: str

    @classmethod
    def fresh(cls) -> Names:
        return cls(f"lt-{uuid.uuid4().hex[:10]}")

    @property
    def repository(self) -> str:
        return REPOSITORY

    def package(self, index: int) -> str:
        return f"{REPOSITORY}.{package_label(index)}"

    def package_path(self, index: int) -> str:
        return package_label(index)

    def revision(self, index: int, draft: int) -> str:
        return f"{self.package(index)}.v{draft}"


@dataclass(frozen=True)
class Op:
    kind: OpKind
    package: int
    variant: int
    expected: bool


class ActorPlan:
    """One actor's seeded stream of decisions."""

    def __init__(self, spec: WorkloadSpec, role: str, index: int) -> None:
        self._spec = spec
        self._rng = random.Random(f"{spec.seed}:{role}:{index}")
        self._hot = spec.hot_packages()

    def package(self) -> int:
        if self._rng.random() < self._spec.hot_share:
            return self._rng.choice(self._hot)
        return self._rng.randrange(self._spec.shape.packages)

    def next_op(self) -> Op:
        draw = self._rng.random()
        if draw < self._spec.publish_share:
            kind = OpKind.PUBLISH
        elif draw < self._spec.publish_share + self._spec.lifecycle_share:
            kind = OpKind.LIFECYCLE
        else:
            kind = OpKind.PUSH
        return Op(
            kind=kind,
            package=self.package(),
            variant=self._rng.randrange(VARIANTS),
            expected=self._rng.random() < self._spec.expected_share,
        )

    def shuffled(self, items: Sequence[T]) -> tuple[T, ...]:
        """Porch iterates a Go map: its per-resource INSERTs come in a random order."""
        order = list(items)
        self._rng.shuffle(order)
        return tuple(order)


@dataclass
class PackageState:
    draft: int = 1
    """The number of the revision work goes on in (`<package>.v<draft>`)."""
    busy: bool = False
    """A publish sequence owns the package; other actors leave it alone meanwhile."""


class Board:
    """What the actors share: each package's current draft and whether one is publishing it."""

    def __init__(self, names: Names, packages: int) -> None:
        self.names = names
        self.packages = [PackageState() for _ in range(packages)]

    def revision(self, package: int) -> str:
        return self.names.revision(package, self.packages[package].draft)

    def claim(self, package: int) -> bool:
        state = self.packages[package]
        if state.busy:
            return False
        state.busy = True
        return True

    def release(self, package: int, *, new_draft: bool = False) -> None:
        state = self.packages[package]
        if new_draft:
            state.draft += 1
        state.busy = False

    def is_busy(self, package: int) -> bool:
        return self.packages[package].busy
