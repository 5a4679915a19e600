"""A small load of the pipeline's real producers, and the ledger of what each producer saw.

One client per package pushes full resource sets in sequence, each push carrying the version
the previous write returned (`expected_version`) and every third followed by a render
write-back of it (`base_version`). A client waits for each outcome before the next write, so
the broker receives a package's intents in the client's order; and because every write is
compare-and-set on the last one, a write applied twice, skipped or out of order would come back
`conflict` or `stale`, not `applied`.

A client treats failures as a porch server would: a `PublishError` (not confirmed) or an
`OutcomeTimeout` (confirmed, outcome late) is retried with the same intent, which the writer's
intent log makes safe; the retry answers `duplicate` with the original outcome.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from messages.intents import Intent
from messages.outcomes import Applied, Conflict, Duplicate, FinalOutcome, Stale
from producers import OutcomeTimeout, Publisher, PublishError
from tests.factories import (
    KPTFILE,
    make_create,
    make_push,
    make_render,
    make_repository,
)

REPOSITORY = "repo"
BOUND_SLACK_S = 2.0
"""How far past its own timeout a producer call may return before it counts as a hang."""


def content(package: str, step: int, label: str = "a") -> dict[str, str]:
    """The full resource set of a package at `step` written by client `label`: every file says
    which write it belongs to."""
    return {
        "Kptfile": KPTFILE,
        "cm.yaml": f"package: {package}\nby: {label}\nstep: {step}\n",
        f"step-{step % 3}.yaml": f"by: {label}\nstep: {step}\n",
    }


def rendered(resources: dict[str, str]) -> dict[str, str]:
    return {
        key: value if key == "Kptfile" else value + "# rendered\n"
        for key, value in resources.items()
    }


def revision_of(package: str) -> str:
    return f"{package}.ws"


def is_whole(package: str, resources: dict[str, str]) -> bool:
    """Whether a read of the package's resources is one complete write (a push or a render)."""
    fields = dict(
        line.split(": ", 1) for line in resources.get("cm.yaml", "").splitlines() if ": " in line
    )
    try:
        whole = content(package, int(fields["step"]), fields["by"])
    except (KeyError, ValueError):
        return False
    return resources in (whole, rendered(whole))


@dataclass
class Op:
    """One intent a client sent, with everything its producer saw."""

    intent: Intent
    package: str
    resources: dict[str, str]
    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    confirmed: bool = False
    """The broker confirmed at least one publish of it."""
    outcome: FinalOutcome | None = None
    """The writer's outcome (a duplicate's original)."""
    duplicate_answer: bool = False
    """The outcome came as `duplicate`: the intent had been applied before this request."""


@dataclass
class Bounds:
    publish_s: float
    outcome_s: float

    @property
    def request_s(self) -> float:
        return self.publish_s + self.outcome_s + BOUND_SLACK_S


class Workload:
    def __init__(
        self,
        namespace: str,
        packages: int,
        bounds: Bounds,
        *,
        label: str = "a",
        chained: bool = True,
        render_every: int = 3,
        op_budget_s: float = 120.0,
    ) -> None:
        """`chained`: each push expects the version the previous write returned. Clients that
        race other clients on the same packages push unchained (a render may then be stale)."""
        self.namespace = namespace
        self.label = label
        self.chained = chained
        self.packages = [f"{REPOSITORY}.f{index:02d}" for index in range(packages)]
        self.bounds = bounds
        self.render_every = render_every
        self.op_budget_s = op_budget_s
        self.ops: list[Op] = []
        self.completed = 0
        """Ops that got their outcome; fault loops wait on it to pick their moments."""
        self.late_calls: list[str] = []
        """Producer calls that returned later than their own timeout allows (hangs)."""
        self.unexpected: list[str] = []
        """Exceptions other than the producer's documented ones."""
        self.gave_up: list[Op] = []
        self._versions: dict[str, int] = {}

    # -- the load ---------------------------------------------------------------------------

    async def setup(self, server: Publisher) -> None:
        """The repository and one Draft revision per package (a writer must be running)."""
        await self._run_op(server, make_repository(self.namespace, REPOSITORY), "", {})
        for package in self.packages:
            resources = content(package, 0, self.label)
            create = make_create(self.namespace, package, revision_of(package), resources)
            op = await self._run_op(server, create, package, resources)
            assert isinstance(op.outcome, Applied), op.outcome
            assert op.outcome.version is not None
            self._versions[package] = op.outcome.version

    def share_packages(self, other: Workload) -> None:
        """Write the packages `other` created (set up once, raced by both)."""
        self._versions = dict(other._versions)

    async def run(self, server: Publisher, render: Publisher, stop: asyncio.Event) -> None:
        """Every client until `stop`; each finishes the write it is in."""
        await asyncio.gather(
            *(self._client(package, server, render, stop) for package in self.packages)
        )

    async def _client(
        self, package: str, server: Publisher, render: Publisher, stop: asyncio.Event
    ) -> None:
        revision = revision_of(package)
        step = 1
        while not stop.is_set():
            resources = content(package, step, self.label)
            push = make_push(
                self.namespace,
                package,
                revision,
                resources,
                expected_version=self._versions[package] if self.chained else None,
            )
            if not self._advance(package, await self._run_op(server, push, package, resources)):
                return
            if step % self.render_every == 0:
                result = rendered(resources)
                write_back = make_render(
                    self.namespace,
                    package,
                    revision,
                    result,
                    self._versions[package],
                    render_request=f"{package}-{self.label}{step}",
                )
                if not self._advance(
                    package, await self._run_op(render, write_back, package, result)
                ):
                    return
            step += 1

    def _advance(self, package: str, op: Op) -> bool:
        """Note the version the op left; False when the client cannot go on."""
        if isinstance(op.outcome, Applied) and op.outcome.version is not None:
            self._versions[package] = op.outcome.version
            return True
        if isinstance(op.outcome, Conflict | Stale):  # reported by the verifier when chained
            self._versions[package] = op.outcome.current_version
            return True
        return False

    async def _run_op(
        self, publisher: Publisher, intent: Intent, package: str, resources: dict[str, str]
    ) -> Op:
        op = Op(intent=intent, package=package, resources=resources)
        self.ops.append(op)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.op_budget_s
        backoff = 0.05
        while True:
            op.attempts += 1
            started = loop.time()
            try:
                outcome = await publisher.request(intent)
            except PublishError as error:
                op.errors.append(type(error).__name__)
                self._check_bound(op, "publish", loop.time() - started, self.bounds.publish_s)
            except OutcomeTimeout:
                op.confirmed = True
                op.errors.append("OutcomeTimeout")
                self._check_bound(op, "request", loop.time() - started, self.bounds.request_s)
            except Exception as error:  # anything else breaks the producer's contract
                self.unexpected.append(f"{type(error).__name__}: {error}")
                op.errors.append(type(error).__name__)
            else:
                self._check_bound(op, "request", loop.time() - started, self.bounds.request_s)
                op.confirmed = True
                if isinstance(outcome, Duplicate):
                    op.duplicate_answer = True
                    outcome = outcome.original
                op.outcome = outcome
                self.completed += 1
                return op
            if loop.time() > deadline:
                self.gave_up.append(op)
                return op
            # The client's retry policy: the same intent again, after a short backoff.
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 1.0)

    def _check_bound(self, op: Op, what: str, took: float, bound: float) -> None:
        if took > bound + BOUND_SLACK_S:
            self.late_calls.append(f"{what} of {op.intent.intent_id} took {took:.1f}s > {bound}s")

    # -- figures ----------------------------------------------------------------------------

    def error_counts(self) -> dict[str, int]:
        return dict(Counter(error for op in self.ops for error in op.errors))

    def summary(self) -> dict[str, Any]:
        return {
            "ops": len(self.ops),
            "confirmed": sum(op.confirmed for op in self.ops),
            "errors_seen_by_producers": self.error_counts(),
            "answered_duplicate": sum(op.duplicate_answer for op in self.ops),
            "late_calls": len(self.late_calls),
            "gave_up": len(self.gave_up),
        }
