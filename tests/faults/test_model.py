"""Model-based test: random interleavings of a server's and a render controller's intents for a
few packages go through the real broker and writer, and every outcome and the final rows must
be what a plain sequential model of porch's rules (tests/faults/harness/model.py) predicts.

All packages of an example share one partition and every intent is published on one channel,
one after another, so the partition's queue order is the publish order the model follows.
Intents are sent in chunks: an intent's expected (or base) version is chosen from the versions
the producers had seen when it was sent, so within a chunk it may already be stale.

Reproducing a failure: hypothesis saves it in .hypothesis/examples and replays it first on the
next run; it also prints a blob, which `PORCH_MODEL_BLOB=<blob>` replays exactly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import hypothesis
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

from messages import Lifecycle
from messages.intents import Intent
from messages.outcomes import Applied, Conflict, Duplicate, FinalOutcome, Outcome, Rejected, Stale
from messages.partition import partition_of
from messages.settings import Settings
from tests.factories import (
    KPTFILE,
    make_create,
    make_delete,
    make_lifecycle,
    make_metadata,
    make_publish,
    make_push,
    make_render,
    make_repository,
)
from tests.faults.harness.model import UNKNOWN, Expect, Model, Rev, Sym
from tests.faults.harness.report import FaultRecord, record
from tests.faults.harness.sender import RawSender
from tests.pipeline import consuming, running_writer
from writer.rows import version_of

ROOT = Path(__file__).resolve().parents[2]
REPO = "repo"
DEFAULT_EXAMPLES = int(os.environ.get("PORCH_MODEL_EXAMPLES", "50"))
THOROUGH_EXAMPLES = int(os.environ.get("PORCH_MODEL_EXAMPLES_SLOW", "500"))
SHRINK_TIMEOUT_S = 900
"""Room for hypothesis to shrink a failure (it gives up after five minutes) and show it."""
BOGUS_VERSION = 1
"""An expected version no revision ever has."""

RESOURCES = [
    {"Kptfile": KPTFILE, "cm.yaml": "a: 1\n"},
    {"Kptfile": KPTFILE, "cm.yaml": "a: 2\n", "extra.yaml": "x: 1\n"},
    {"cm.yaml": "a: 3\n"},
    {},
]
KINDS = [
    "create",
    *["push"] * 4,
    *["render"] * 3,
    *["lifecycle"] * 4,
    *["publish"] * 4,
    "metadata",
    *["delete"] * 3,
    *["duplicate"] * 2,
]
NEXT_LIFECYCLE = {
    Lifecycle.DRAFT: Lifecycle.PROPOSED,
    Lifecycle.PROPOSED: Lifecycle.DRAFT,
    Lifecycle.PUBLISHED: Lifecycle.DELETION_PROPOSED,
    Lifecycle.DELETION_PROPOSED: Lifecycle.PUBLISHED,
}
"""Where a steered lifecycle change goes from each state."""
STEPPING_STONES = {
    ("publish", Lifecycle.DRAFT): "lifecycle",
    ("delete", Lifecycle.PUBLISHED): "lifecycle",
    ("push", Lifecycle.PROPOSED): "lifecycle",
    ("render", Lifecycle.PROPOSED): "lifecycle",
}
"""A steered step of this kind on a revision in this state changes its lifecycle first."""
REVISIONS_PER_PACKAGE = 3
OTHER_PACKAGE = REVISIONS_PER_PACKAGE


@dataclass(frozen=True)
class Step:
    kind: str
    package: int
    """0 or 1."""
    revision: int
    """0..2: the package's own revisions; OTHER_PACKAGE: the other package's first one."""
    resources: int
    version: str
    """Which expected (or base) version to send: none, current, old or bogus."""
    lifecycle: Lifecycle
    variant: int
    """Bit 1: requests a render / carries a Kptfile status; bit 2: created as Proposed."""
    pick: int
    """A duplicate re-sends the earlier intent number pick % sent."""
    sync: bool
    """Wait for every outcome so far after this step."""


STEPS = st.lists(
    st.builds(
        Step,
        kind=st.sampled_from(KINDS),
        package=st.sampled_from([0, 0, 0, 1]),
        revision=st.sampled_from([0, 0, 1, 1, 2, OTHER_PACKAGE]),
        resources=st.integers(0, len(RESOURCES) - 1),
        version=st.sampled_from(["none", "none", "current", "current", "old", "bogus"]),
        lifecycle=st.sampled_from(list(Lifecycle)),
        variant=st.integers(0, 3),
        pick=st.integers(0, 1000),
        sync=st.booleans(),
    ),
    min_size=8,
    max_size=60,
)


@dataclass
class Sent:
    intent: Intent
    name: str
    """The revision it names."""
    correlation_id: str
    expected: int | None
    """The real expected (or base) version it carries."""
    predicted: Expect | None = None
    """What the model says, applied in publish order as it was sent."""


def rendered(resources: dict[str, str]) -> dict[str, str]:
    return {
        key: value if key == "Kptfile" else value + "# rendered\n"
        for key, value in resources.items()
    }


def packages_sharing_a_partition(namespace: str, partitions: int) -> list[str]:
    seen: dict[int, list[str]] = {}
    for index in itertools.count():
        name = f"pk{index}"
        group = seen.setdefault(partition_of(f"{namespace}/{name}", partitions), [])
        group.append(name)
        if len(group) == 2:
            return group
    raise AssertionError("unreachable")


class Example:
    """One generated interleaving, run against the real pipeline and the model side by side."""

    def __init__(
        self, sender: RawSender, db: asyncpg.Connection, namespace: str, partitions: int
    ) -> None:
        self.sender = sender
        self.db = db
        self.ns = namespace
        self.packages = packages_sharing_a_partition(namespace, partitions)
        self.model = Model(REPO)
        self.sent: list[Sent] = []
        self.unchecked: list[Sent] = []
        self.known: dict[str, list[int]] = {}
        """Real versions per revision, as outcomes received so far showed them."""
        self.sym_of: dict[tuple[str, int], Sym] = {}
        self.real_of: dict[tuple[str, Sym], int] = {}
        self.first: dict[Any, FinalOutcome] = {}
        self.outcomes = 0

    def revision_name(self, step: Step) -> tuple[str, str]:
        package = self.packages[step.package]
        if step.revision == OTHER_PACKAGE:
            return package, f"{self.packages[1 - step.package]}.v1"
        return package, f"{package}.v{step.revision + 1}"

    def retarget(self, step: Step) -> Step:
        """A steered publish goes to a revision of the package not yet published, a steered
        delete (one in two) to the package's latest: so packages get several published
        revisions and lose their latest one."""
        package = self.packages[step.package]
        revisions = [
            (index, self.model.revisions.get(f"{package}.v{index + 1}"))
            for index in range(REVISIONS_PER_PACKAGE)
        ]
        if step.kind == "publish":
            unpublished = [i for i, row in revisions if row is None or row.revision <= 0]
            if unpublished and step.revision not in unpublished:
                return dataclasses.replace(step, revision=unpublished[0])
        if step.kind == "delete" and step.variant & 1:
            latest = [i for i, row in revisions if row is not None and row.latest]
            if latest:
                return dataclasses.replace(step, revision=latest[0])
        return step

    def resolve(self, name: str, choice: str) -> int | None:
        """The real version a producer would send: `current` is the revision's version when the
        intent will be applied, if an outcome already showed it, else the newest one seen."""
        known = self.known.get(name, [])
        if choice == "none":
            return None
        if choice == "current":
            row = self.model.revisions.get(name)
            current = None if row is None else self.real_of.get((name, row.version))
            if current is not None:
                return current
            if known:
                return known[-1]
        if choice == "old" and known:
            return known[0]
        return BOGUS_VERSION

    async def build(self, step: Step) -> tuple[Intent, str, int | None] | None:
        """The intent of a step. Three steps in four are steered by the model's state (create
        what is missing, move a lifecycle the natural way, wait until the current version is
        known), so that interleavings reach deep states; the rest go as generated."""
        if step.kind == "duplicate":
            if not self.sent:
                return None
            earlier = self.sent[step.pick % len(self.sent)]
            return earlier.intent, earlier.name, earlier.expected
        steered = step.pick % 4 != 0
        if steered:
            step = self.retarget(step)
        package, name = self.revision_name(step)
        row = self.model.revisions.get(name)
        if steered:
            step = self.steer(step, package, row)
        choice = "current" if step.kind == "render" and step.version == "none" else step.version
        if steered and choice == "current" and row is not None and not self.is_known(name, row):
            await self.check_outcomes()  # the producer waits for the outcome it builds on
        expected = self.resolve(name, choice)
        target = NEXT_LIFECYCLE[row.lifecycle] if steered and row is not None else step.lifecycle
        return self.make(step, package, name, expected, target), name, expected

    @staticmethod
    def steer(step: Step, package: str, row: Rev | None) -> Step:
        """Lead the step toward a state where it does something: create what is missing (with
        a Kptfile), propose a Draft before publishing it and a Published revision before
        deleting it, render what waits for a render, bring a Proposed one back to Draft
        before writing it, and publish a Proposed one now and then."""
        if row is None:
            return dataclasses.replace(step, kind="create", resources=step.resources % 2)
        if row.package != package:
            return step  # a revision of another package: unknown_revision, as generated
        kind, lifecycle = step.kind, row.lifecycle
        if (kind, lifecycle) in STEPPING_STONES:
            return dataclasses.replace(step, kind=STEPPING_STONES[kind, lifecycle])
        if kind == "lifecycle" and lifecycle is Lifecycle.DRAFT and row.pending is not None:
            return dataclasses.replace(step, kind="render")
        if kind == "lifecycle" and lifecycle is Lifecycle.PROPOSED and step.variant & 2:
            return dataclasses.replace(step, kind="publish")
        return step

    def is_known(self, name: str, row: Rev) -> bool:
        return (name, row.version) in self.real_of

    def make(
        self, step: Step, package: str, name: str, expected: int | None, target: Lifecycle
    ) -> Intent:
        resources = RESOURCES[step.resources]
        ns = self.ns
        if step.kind == "create":
            lifecycle = Lifecycle.PROPOSED if step.variant & 2 else Lifecycle.DRAFT
            return make_create(
                ns,
                package,
                name,
                resources,
                lifecycle=lifecycle,
                requests_render=bool(step.variant & 1),
            )
        if step.kind == "push":
            return make_push(
                ns,
                package,
                name,
                resources,
                expected_version=expected,
                requests_render=bool(step.variant & 1),
            )
        if step.kind == "render":
            assert expected is not None
            status = f'{{"r": {step.variant}}}' if step.variant & 1 else None
            return make_render(
                ns, package, name, rendered(resources), expected, kptfile_status=status
            )
        if step.kind == "lifecycle":
            return make_lifecycle(ns, package, name, target, expected_version=expected)
        if step.kind == "publish":
            return make_publish(ns, package, name, expected_version=expected)
        if step.kind == "metadata":
            meta = f'{{"m": {step.variant}}}'
            return make_metadata(ns, package, name, meta=meta, expected_version=expected)
        assert step.kind == "delete", step.kind
        return make_delete(ns, package, name, expected_version=expected)

    async def run(self, steps: list[Step]) -> None:
        await self.sender.publish_intent(make_repository(self.ns, REPO), f"{self.ns}-repo")
        assert isinstance(await self.sender.outcome(f"{self.ns}-repo"), Applied)
        for index, step in enumerate(steps):
            built = await self.build(step)
            if built is not None:
                intent, name, expected = built
                sent = Sent(intent, name, f"{self.ns}-{index}", expected)
                expected_sym = (
                    None if expected is None else self.sym_of.get((name, expected), UNKNOWN)
                )
                sent.predicted = self.model.apply(intent, expected_sym)
                await self.sender.publish_intent(intent, sent.correlation_id)
                self.sent.append(sent)
                self.unchecked.append(sent)
            if step.sync:
                await self.check_outcomes()
        await self.check_outcomes()
        await self.check_rows()

    # -- outcomes ---------------------------------------------------------------------------

    async def check_outcomes(self) -> None:
        for sent in self.unchecked:
            real = await self.sender.outcome(sent.correlation_id)
            assert sent.predicted is not None
            self.compare(sent, sent.predicted, real)
            self.outcomes += 1
        self.unchecked = []

    def compare(self, sent: Sent, predicted: Expect, real: Outcome) -> None:
        intent, name = sent.intent, sent.name
        where = f"{intent.kind} {name} (sent as {sent.correlation_id})"
        assert real.status == predicted.status, (
            f"{where}: model says {predicted}, writer said {real}"
        )
        if isinstance(real, Duplicate):
            assert real.original == self.first[intent.intent_id], f"{where}: {real}"
            return
        self.first[intent.intent_id] = real
        if isinstance(real, Applied):
            assert real.revision == predicted.revision, f"{where}: {real} vs {predicted}"
            if predicted.version is None:
                assert real.version is None, f"{where}: {real}"
            else:
                assert real.version is not None
                self.bind(name, predicted.version, real.version, where)
        elif isinstance(real, Rejected):
            assert real.reason is predicted.reason, f"{where}: {real} vs {predicted}"
        elif isinstance(real, Conflict | Stale):
            sent_version = (
                real.expected_version if isinstance(real, Conflict) else real.base_version
            )
            assert sent_version == sent.expected, f"{where}: {real}"
            assert predicted.current is not None
            self.bind(name, predicted.current, real.current_version, where)

    def bind(self, name: str, sym: Sym, real: int, where: str) -> None:
        """Symbol `sym` of revision `name` is real version `real`, now and forever."""
        known_sym = self.sym_of.setdefault((name, real), sym)
        known_real = self.real_of.setdefault((name, sym), real)
        assert (known_sym, known_real) == (sym, real), (
            f"{where}: version {real} is the model's write {sym}, but was {known_sym} / "
            f"{known_real} before"
        )
        versions = self.known.setdefault(name, [])
        if real not in versions:
            versions.append(real)
        ordered = sorted((s, r) for (n, s), r in self.real_of.items() if n == name)
        reals = [r for _, r in ordered]
        assert reals == sorted(set(reals)), f"{where}: versions out of order {ordered}"

    # -- rows -------------------------------------------------------------------------------

    def sym(self, name: str, real: Any) -> Sym | None:
        if real is None:
            return None
        value = real if isinstance(real, int) else version_of(real)
        return self.sym_of.get((name, value), UNKNOWN)

    async def check_rows(self) -> None:
        packages = await self.db.fetch(
            "SELECT k8s_name, repo_k8s_name FROM packages WHERE k8s_name_space = $1", self.ns
        )
        assert {row["k8s_name"]: row["repo_k8s_name"] for row in packages} == dict.fromkeys(
            self.model.packages, REPO
        )
        rows = await self.db.fetch(
            "SELECT * FROM package_revisions WHERE k8s_name_space = $1", self.ns
        )
        found = {row["k8s_name"]: row for row in rows}
        assert set(found) == set(self.model.revisions), (set(found), set(self.model.revisions))
        pending = {
            row["k8s_name"]: row["pending_version"]
            for row in await self.db.fetch(
                "SELECT k8s_name, pending_version FROM revision_render_state "
                "WHERE k8s_name_space = $1",
                self.ns,
            )
        }
        for name, rev in self.model.revisions.items():
            row = found[name]
            actual = {
                "package": row["package_k8s_name"],
                "revision": row["revision"],
                "lifecycle": row["lifecycle"],
                "latest": row["latest"],
                "meta": row["meta"],
                "spec": row["spec"],
                "tasks": row["tasks"],
                "kptfile_status": row["kptfile_status"],
                "resources_size": row["resources_size"],
                "version": self.sym(name, row["updated"]),
                "pending": self.sym(name, pending.get(name)),
                "resources": await self.resources(name),
            }
            wanted = {
                "package": rev.package,
                "revision": rev.revision,
                "lifecycle": rev.lifecycle.value,
                "latest": rev.latest,
                "meta": rev.meta,
                "spec": rev.spec,
                "tasks": rev.tasks,
                "kptfile_status": rev.kptfile_status,
                "resources_size": rev.resources_size,
                "version": rev.version,
                "pending": rev.pending,
                "resources": {key: (0, value) for key, value in rev.resources.items()},
            }
            assert actual == wanted, f"revision {name}: rows {actual} != model {wanted}"
        assert not set(pending) - set(self.model.revisions)

    async def resources(self, name: str) -> dict[str, tuple[int, str]]:
        records = await self.db.fetch(
            "SELECT resource_key, revision, resource_value FROM resources "
            "WHERE k8s_name_space = $1 AND k8s_name = $2",
            self.ns,
            name,
        )
        return {r["resource_key"]: (r["revision"], r["resource_value"]) for r in records}


@dataclass
class Pipeline:
    """What the property runs against; set by the test for the property's thread."""

    loop: asyncio.AbstractEventLoop
    sender: RawSender
    db: asyncpg.Connection
    partitions: int
    examples: int = 0
    outcomes: int = 0


PIPELINE: list[Pipeline] = []
_NAMESPACES = itertools.count()


def _run_example(steps: list[Step]) -> None:
    pipeline = PIPELINE[-1]
    example = Example(
        pipeline.sender, pipeline.db, f"m{next(_NAMESPACES):05d}", pipeline.partitions
    )
    future = asyncio.run_coroutine_threadsafe(example.run(steps), pipeline.loop)
    future.result(timeout=180)
    pipeline.examples += 1
    pipeline.outcomes += example.outcomes


def _property(max_examples: int) -> Callable[[], None]:
    test = given(steps=STEPS)(_run_example)
    blob = os.environ.get("PORCH_MODEL_BLOB")
    if blob:
        test = hypothesis.reproduce_failure(hypothesis.__version__, blob.encode())(test)
    return hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        database=DirectoryBasedExampleDatabase(ROOT / ".hypothesis" / "examples"),
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(test)


async def check_model(settings: Settings, db: asyncpg.Connection, max_examples: int) -> Pipeline:
    async with running_writer(settings) as writer:
        await consuming(writer)  # the topology is declared
        async with RawSender.open(settings) as sender:
            pipeline = Pipeline(asyncio.get_running_loop(), sender, db, settings.partitions)
            PIPELINE.append(pipeline)
            try:
                await asyncio.to_thread(_property(max_examples))
            finally:
                PIPELINE.remove(pipeline)
    record(
        FaultRecord(
            fault="model-based interleavings",
            injected=pipeline.examples,
            intents=pipeline.outcomes,
            details={"examples": pipeline.examples, "outcomes compared": pipeline.outcomes},
        )
    )
    return pipeline


@pytest.mark.timeout(SHRINK_TIMEOUT_S)
async def test_the_pipeline_agrees_with_the_model(
    settings: Settings, db: asyncpg.Connection
) -> None:
    await check_model(settings, db, DEFAULT_EXAMPLES)


@pytest.mark.slow
@pytest.mark.timeout(SHRINK_TIMEOUT_S + 600)
async def test_the_pipeline_agrees_with_the_model_thoroughly(
    settings: Settings, db: asyncpg.Connection
) -> None:
    await check_model(settings, db, THOROUGH_EXAMPLES)
