"""Consecutive pushes to one revision inside a batch become one write.

A push or render that passed its checks is not written at once: it starts a run for its
revision. A later push to that revision without an expected version joins the run: its checks
need nothing the run changes (the revision stays a Draft of the same package), and its outcome
cannot depend on a version that nobody outside this transaction has seen yet. The run is
written as one diff from what its first member read to what its last member holds, and every
member still gets its own version, strictly increasing, and its own outcome.

Before any other intent that touches a package with a run (or any repository intent) is
applied, the runs it could see are written: every intent reads the rows that applying the
batch one intent at a time would have shown it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from messages.intents import Intent, RepositoryIntent, ResourcesUpdate, RevisionIntent
from messages.outcomes import Applied
from writer.apply.common import ApplyContext, applied
from writer.apply.resources import Rewrite, push_pending, write_rewrites
from writer.gateway import Gateway

RevisionKey = tuple[str, str]
"""(namespace, revision name)"""


@dataclass
class _Run:
    members: list[tuple[int, Rewrite]]
    """(position in the batch, rewrite), in batch order."""
    render_pending: bool
    """Whether a render is pending once the members so far are applied."""

    @property
    def package(self) -> str:
        return self.members[0][1].row.package


@dataclass
class Coalescer:
    gateway: Gateway
    _runs: dict[RevisionKey, _Run] = field(default_factory=dict)
    folded: int = 0
    """Members that joined a run, so had no write of their own."""

    def start(self, position: int, rewrite: Rewrite) -> None:
        key = (rewrite.intent.namespace, rewrite.intent.revision_name)
        assert key not in self._runs, "runs_touched(intent) is written before a new run starts"
        pending = rewrite.pending == "set" or (
            rewrite.pending == "keep" and rewrite.row.pending_version is not None
        )
        self._runs[key] = _Run([(position, rewrite)], pending)

    def join(self, position: int, intent: Intent, context: ApplyContext) -> bool:
        """Add the intent to its revision's run if it may join one; whether it did."""
        if not isinstance(intent, ResourcesUpdate) or intent.expected_version is not None:
            return False
        run = self._runs.get((intent.namespace, intent.revision_name))
        if run is None or run.package != intent.package:
            return False
        first = run.members[0][1]
        pending = push_pending(intent, run.render_pending)
        rewrite = Rewrite(intent, first.row, first.digests, context.updated_by, None, pending)
        run.members.append((position, rewrite))
        run.render_pending = pending == "set"
        self.folded += 1
        return True

    async def write_touched(self, intent: Intent) -> list[tuple[int, Applied]]:
        """Write the runs that `intent` could read or change; their members' outcomes."""
        touched = [key for key, run in self._runs.items() if _touches(intent, key, run.package)]
        return await self._write(touched)

    async def write_all(self) -> list[tuple[int, Applied]]:
        return await self._write(list(self._runs))

    async def _write(self, keys: list[RevisionKey]) -> list[tuple[int, Applied]]:
        outcomes: list[tuple[int, Applied]] = []
        for key in keys:
            run = self._runs.pop(key)
            rewrites = [rewrite for _, rewrite in run.members]
            versions = await write_rewrites(self.gateway, rewrites)
            outcomes.extend(
                (position, applied(rewrite.intent, version))
                for (position, rewrite), version in zip(run.members, versions, strict=True)
            )
        return outcomes


def _touches(intent: Intent, key: RevisionKey, package: str) -> bool:
    if isinstance(intent, RepositoryIntent):
        return True  # a removal cascades to every package of the repository
    namespace, revision_name = key
    if intent.namespace != namespace:
        return False
    same_revision = isinstance(intent, RevisionIntent) and intent.revision_name == revision_name
    return same_revision or intent.package == package
