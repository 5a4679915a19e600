"""A plain, sequential model of porch's rules as writer/apply/ implements them.

It applies intents one after another, as one partition's queue delivers them, and predicts
every outcome and the final rows. Versions are symbols (the n-th write), not timestamps: the
test binds each symbol to the real version the first time an outcome shows it, and from then
on compares by equality, so only order and identity of versions matter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from messages import Lifecycle, RejectReason
from messages.envelope import body_digest, encode_intent
from messages.intents import (
    Intent,
    LifecycleChange,
    MetadataSet,
    RenderResult,
    ResourcesUpdate,
    RevisionCreate,
    RevisionDelete,
    RevisionIntent,
    RevisionPublish,
)

Sym = int
"""A symbolic version: the model's n-th write."""
UNKNOWN: Sym = -1
"""The symbol of a version the model never handed out (a made-up expected version)."""

ALLOWED = {
    (Lifecycle.DRAFT, Lifecycle.PROPOSED),
    (Lifecycle.PROPOSED, Lifecycle.DRAFT),
    (Lifecycle.PUBLISHED, Lifecycle.DELETION_PROPOSED),
    (Lifecycle.DELETION_PROPOSED, Lifecycle.PUBLISHED),
}


@dataclass
class Rev:
    package: str
    revision: int
    lifecycle: Lifecycle
    latest: bool
    version: Sym
    pending: Sym | None
    resources: dict[str, str]
    meta: str
    spec: str
    tasks: str
    kptfile_status: str

    @property
    def resources_size(self) -> int:
        return sum(len(value.encode("utf-8")) for value in self.resources.values())


@dataclass(frozen=True)
class Expect:
    """A predicted outcome, with symbolic versions."""

    status: str
    version: Sym | None = None
    revision: int | None = None
    reason: RejectReason | None = None
    current: Sym | None = None
    """Stale and conflict: the revision's version."""
    original: UUID | None = None
    """Duplicate: the intent whose first outcome it repeats."""


@dataclass
class Model:
    repository: str
    revisions: dict[str, Rev] = field(default_factory=dict)
    packages: set[str] = field(default_factory=set)
    log: dict[UUID, str] = field(default_factory=dict)
    """intent id -> body digest of what was recorded."""
    writes: int = 0

    def _new_version(self) -> Sym:
        self.writes += 1
        return self.writes

    def apply(self, intent: Intent, expected: Sym | None) -> Expect:
        """Apply one intent; `expected` is the symbol of its expected or base version."""
        digest = body_digest(encode_intent(intent).body)
        if intent.intent_id in self.log:
            if self.log[intent.intent_id] != digest:
                return Expect("rejected", reason=RejectReason.ID_REUSED)
            return Expect("duplicate", original=intent.intent_id)
        self.log[intent.intent_id] = digest
        if isinstance(intent, RevisionCreate):
            return self._create(intent)
        assert isinstance(intent, RevisionIntent), f"the model does not know {intent.kind}"
        row = self.revisions.get(intent.revision_name)
        if row is None or row.package != intent.package:
            return Expect("rejected", reason=RejectReason.UNKNOWN_REVISION)
        if isinstance(intent, ResourcesUpdate):
            return self._push(intent, row, expected)
        if isinstance(intent, RenderResult):
            return self._render(intent, row, expected)
        if expected is not None and expected != row.version:
            return Expect("conflict", current=row.version)
        return self._checked(intent, row)

    def _checked(self, intent: RevisionIntent, row: Rev) -> Expect:
        """The intents whose expected version matched (or that named none)."""
        if isinstance(intent, LifecycleChange):
            return self._lifecycle(intent, row)
        if isinstance(intent, RevisionPublish):
            return self._publish(intent, row)
        if isinstance(intent, MetadataSet):
            return self._metadata(intent, row)
        if isinstance(intent, RevisionDelete):
            return self._delete(intent, row)
        raise AssertionError(f"the model does not know {type(intent).__name__}")

    def _create(self, intent: RevisionCreate) -> Expect:
        if intent.revision_name in self.revisions:
            return Expect("rejected", reason=RejectReason.ALREADY_EXISTS)
        self.packages.add(intent.package)
        version = self._new_version()
        self.revisions[intent.revision_name] = Rev(
            package=intent.package,
            revision=0,
            lifecycle=Lifecycle(intent.lifecycle),
            latest=False,
            version=version,
            pending=version if intent.requests_render else None,
            resources=dict(intent.resources),
            meta=intent.meta,
            spec=intent.spec,
            tasks=intent.tasks,
            kptfile_status="{}",
        )
        return Expect("applied", version=version)

    def _push(self, intent: ResourcesUpdate, row: Rev, expected: Sym | None) -> Expect:
        if row.lifecycle is not Lifecycle.DRAFT:
            return Expect("rejected", reason=RejectReason.NOT_DRAFT)
        if expected is not None and expected != row.version:
            return Expect("conflict", current=row.version)
        row.resources = dict(intent.resources)
        row.version = self._new_version()
        row.pending = row.version if intent.requests_render else None
        return Expect("applied", version=row.version)

    def _render(self, intent: RenderResult, row: Rev, base: Sym | None) -> Expect:
        if row.lifecycle is not Lifecycle.DRAFT:
            return Expect("rejected", reason=RejectReason.NOT_DRAFT)
        if base != row.version:
            return Expect("stale", current=row.version)
        row.resources = dict(intent.resources)
        if intent.kptfile_status is not None:
            row.kptfile_status = intent.kptfile_status
        row.version = self._new_version()
        row.pending = None
        return Expect("applied", version=row.version)

    def _lifecycle(self, intent: LifecycleChange, row: Rev) -> Expect:
        target = Lifecycle(intent.lifecycle)
        if row.lifecycle is not target and (row.lifecycle, target) not in ALLOWED:
            return Expect("rejected", reason=RejectReason.INVALID_TRANSITION)
        proposing = row.lifecycle is Lifecycle.DRAFT and target is Lifecycle.PROPOSED
        if proposing and row.pending is not None:
            return Expect("rejected", reason=RejectReason.RENDER_PENDING)
        row.lifecycle = target
        row.version = self._new_version()
        return Expect("applied", version=row.version)

    def _publish(self, intent: RevisionPublish, row: Rev) -> Expect:
        if row.lifecycle is not Lifecycle.PROPOSED:
            return Expect("rejected", reason=RejectReason.INVALID_TRANSITION)
        if "Kptfile" not in row.resources:
            return Expect("rejected", reason=RejectReason.KPTFILE_MISSING)
        mine = [rev for rev in self.revisions.values() if rev.package == row.package]
        number = max([rev.revision for rev in mine if rev.revision > 0], default=0) + 1
        for rev in mine:
            rev.latest = False
        row.lifecycle, row.revision, row.latest = Lifecycle.PUBLISHED, number, True
        row.version = self._new_version()
        return Expect("applied", version=row.version, revision=number)

    def _metadata(self, intent: MetadataSet, row: Rev) -> Expect:
        row.meta = intent.meta if intent.meta is not None else row.meta
        row.spec = intent.spec if intent.spec is not None else row.spec
        row.tasks = intent.tasks if intent.tasks is not None else row.tasks
        if intent.kptfile_status is not None:
            row.kptfile_status = intent.kptfile_status
        row.version = self._new_version()
        return Expect("applied", version=row.version)

    def _delete(self, intent: RevisionDelete, row: Rev) -> Expect:
        if row.lifecycle is Lifecycle.PUBLISHED and row.revision > 0:
            return Expect("rejected", reason=RejectReason.INVALID_TRANSITION)
        del self.revisions[intent.revision_name]
        if row.latest:
            self._refresh_latest(row.package)
        if not any(rev.package == row.package for rev in self.revisions.values()):
            self.packages.discard(row.package)
        return Expect("applied")

    def _refresh_latest(self, package: str) -> None:
        candidates = sorted(
            (
                (-rev.revision, name)
                for name, rev in self.revisions.items()
                if rev.package == package
                and rev.revision > 0
                and rev.lifecycle in (Lifecycle.PUBLISHED, Lifecycle.DELETION_PROPOSED)
            ),
        )
        best = candidates[0][1] if candidates else None
        for name, rev in self.revisions.items():
            if rev.package == package:
                rev.latest = name == best
