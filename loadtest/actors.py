"""The two kinds of concurrent actors, as in porch.

Server actors push full resource sets (half of them with the version they read), change
lifecycles and publish (then continue on a new draft). After each applied push they hand the
package to the render actors, who read it and write a render of it back at once, with the
version they read, while the server actors keep pushing the same hot packages.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from loadtest.content import Bodies, ContentBook, stamp
from loadtest.ledger import Ledger, Result, Status, WriteKind
from loadtest.modes import Backend, NewRevision
from loadtest.pacing import Budget, Pacer
from loadtest.stats import Stats
from loadtest.workload import ActorPlan, Board, Op, OpKind, WorkloadSpec

DRAFT, PROPOSED = "Draft", "Proposed"
_STOP = -1


Call = Callable[[dict[str, str] | None], Awaitable[Result]]
"""Sends one write, given its resources (None for lifecycle and publish writes)."""


@dataclass(frozen=True)
class Planned:
    """A write ready to go: its bodies (None: it sets no resources) and how to send it."""

    bodies: Bodies | None
    call: Call

    @staticmethod
    def ready(bodies: Bodies | None, call: Call) -> Callable[[], Awaitable[Planned]]:
        """A preparation with nothing to read first."""

        async def prepare() -> Planned:
            return Planned(bodies, call)

        return prepare


@dataclass
class RunContext:
    """Everything the actors of one run share."""

    spec: WorkloadSpec
    backend: Backend
    board: Board
    book: ContentBook
    ledger: Ledger
    stats: Stats
    pacer: Pacer
    budget: Budget
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    handoffs: asyncio.Queue[int] = field(init=False)

    def __post_init__(self) -> None:
        self.handoffs = asyncio.Queue(maxsize=max(2 * self.spec.render_actors, 1))

    def hand_off(self, package: int) -> None:
        """Give a freshly pushed package to the render actors; drop it when they are behind."""
        if self.spec.render_actors and not self.stop.is_set() and not self.handoffs.full():
            self.handoffs.put_nowait(package)

    def close_handoffs(self) -> None:
        """Wake every render actor to stop (the stop event is set first)."""
        while not self.handoffs.empty():
            self.handoffs.get_nowait()
        for _ in range(self.spec.render_actors):
            self.handoffs.put_nowait(_STOP)


class Actor:
    role = "actor"

    def __init__(self, context: RunContext, index: int) -> None:
        self.ctx = context
        self.index = index
        self.plan = ActorPlan(context.spec, self.role, index)
        self._count = 0

    async def _admit(self) -> bool:
        if self.ctx.stop.is_set() or not self.ctx.budget.take():
            return False
        lag = await self.ctx.pacer.wait()
        self.ctx.stats.observe_lag(lag)
        if self.ctx.stop.is_set():
            self.ctx.budget.give_back()
            return False
        return True

    def _next_id(self) -> str:
        self._count += 1
        return f"{self.role[0]}{self.index}.{self._count}"

    async def _write(
        self, kind: WriteKind, revision: str, prepare: Callable[[], Awaitable[Planned | None]]
    ) -> Result | None:
        """One write: admitted, then prepared (reads happen here, after any wait for a
        slot, so they are fresh), recorded in the ledger, timed from call to outcome."""
        if not await self._admit():
            return None
        planned = await prepare()
        if planned is None:
            self.ctx.budget.give_back()
            return None
        write_id = self._next_id()
        resources = None if planned.bodies is None else stamp(planned.bodies, write_id)
        record = self.ctx.ledger.begin(write_id, kind, revision, planned.bodies)
        started = time.perf_counter()
        result = await planned.call(resources)
        latency = time.perf_counter() - started
        self.ctx.ledger.finish(record, result)
        self.ctx.stats.observe(kind, result.status, latency, result.detail)
        return result


class ServerActor(Actor):
    role = "server"

    async def run(self) -> None:
        while not self.ctx.stop.is_set() and not self.ctx.budget.exhausted:
            op = self.plan.next_op()
            if op.kind is OpKind.PUSH and not self.ctx.board.is_busy(op.package):
                await self.push(op)
            elif op.kind is not OpKind.PUSH and self.ctx.board.claim(op.package):
                await self._owning(op)
            else:
                # Another actor is publishing that package: let it run (this loop would not
                # otherwise yield), then draw again.
                await asyncio.sleep(0)

    async def _owning(self, op: Op) -> None:
        """A lifecycle sequence, with the package claimed so no other actor writes it."""
        new_draft = False
        try:
            if op.kind is OpKind.PUBLISH:
                new_draft = await self.publish(op)
            else:
                await self.cycle(op)
        finally:
            self.ctx.board.release(op.package, new_draft=new_draft)

    async def push(self, op: Op) -> None:
        ctx, package = self.ctx, op.package
        revision = ctx.board.revision(package)

        async def prepare() -> Planned:
            # Half of the pushes carry the version a GET returned just before (optimistic).
            expected = await ctx.backend.version(revision) if op.expected else None

            async def call(resources: dict[str, str] | None) -> Result:
                assert resources is not None
                return await ctx.backend.push(package, revision, resources, expected)

            return Planned(self.plan.shuffled(ctx.book.bodies(package, op.variant)), call)

        result = await self._write(WriteKind.PUSH, revision, prepare)
        if result is not None and result.status is Status.APPLIED:
            ctx.hand_off(package)

    async def _lifecycle(self, package: int, revision: str, target: str) -> bool:
        async def call(_: dict[str, str] | None) -> Result:
            return await self.ctx.backend.lifecycle(package, revision, target)

        result = await self._write(WriteKind.LIFECYCLE, revision, Planned.ready(None, call))
        return result is not None and result.status is Status.APPLIED

    async def cycle(self, op: Op) -> None:
        """Propose the draft and take it back: lifecycle-only changes."""
        revision = self.ctx.board.revision(op.package)
        if await self._lifecycle(op.package, revision, PROPOSED):
            await self._lifecycle(op.package, revision, DRAFT)

    async def publish(self, op: Op) -> bool:
        """Propose, publish, then continue on a new draft of the package.

        True when work continues on a new draft. Without one (the run is ending, or the
        create failed) it continues on the published revision, whose writes are refused.
        """
        package, board = op.package, self.ctx.board
        revision = board.revision(package)
        if not await self._lifecycle(package, revision, PROPOSED):
            return False

        async def publish_call(_: dict[str, str] | None) -> Result:
            return await self.ctx.backend.publish(package, revision)

        published = await self._write(
            WriteKind.PUBLISH, revision, Planned.ready(None, publish_call)
        )
        if published is None or published.status is not Status.APPLIED:
            await self._lifecycle(package, revision, DRAFT)
            return False
        return await self._new_draft(op, board.packages[package].draft + 1)

    async def _new_draft(self, op: Op, draft: int) -> bool:
        ctx = self.ctx
        revision = ctx.board.names.revision(op.package, draft)

        async def call(resources: dict[str, str] | None) -> Result:
            assert resources is not None
            return await ctx.backend.create_draft(NewRevision(op.package, revision, resources))

        bodies = ctx.book.bodies(op.package, op.variant)
        result = await self._write(WriteKind.CREATE, revision, Planned.ready(bodies, call))
        return result is not None and result.status is Status.APPLIED


class RenderActor(Actor):
    role = "render"

    async def run(self) -> None:
        while True:
            package = await self.ctx.handoffs.get()
            if package == _STOP or self.ctx.stop.is_set():
                return
            if not self.ctx.board.is_busy(package):
                await self.render(package)

    async def render(self, package: int) -> None:
        ctx = self.ctx
        revision = ctx.board.revision(package)

        async def prepare() -> Planned | None:
            snapshot = await ctx.backend.read(revision)
            if snapshot is None or snapshot.lifecycle != DRAFT:
                return None  # proposed or published meanwhile: nothing to render

            async def call(resources: dict[str, str] | None) -> Result:
                assert resources is not None
                return await ctx.backend.render(package, revision, resources, snapshot.version)

            return Planned(ctx.book.render(snapshot.resources), call)

        await self._write(WriteKind.RENDER, revision, prepare)
