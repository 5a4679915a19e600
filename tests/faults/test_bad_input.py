"""Guarantee 9: every bad delivery gets its outcome with a reason and an intent-log entry, leaves
porch's tables exactly as they were, and its partition goes on (a good intent right after each
one, on the same partition, is applied)."""

from __future__ import annotations

from collections import Counter

import asyncpg
import pytest

from messages import Applied, Lifecycle, Rejected
from messages.intents import Intent
from messages.settings import Settings
from producers import Publisher, PublishRefused, ServerProducer
from tests.dbstate import snapshot
from tests.factories import (
    KPTFILE,
    make_create,
    make_lifecycle,
    make_publish,
    make_push,
    make_repository,
)
from tests.faults.harness.corpus import FORGED_USER, LIMITS, Case, Packages, corpus
from tests.faults.harness.report import FaultRecord, record
from tests.faults.harness.sender import RawSender
from tests.pipeline import consuming, running_writer
from tests.waiting import wait_until

GOOD = {"Kptfile": KPTFILE, "cm.yaml": "good: 0\n"}


async def build(server: ServerProducer, packages: Packages) -> int:
    """The corpus's packages; returns the draft's version."""
    ns, rev = packages.namespace, packages.revision
    intents: list[Intent] = [
        make_repository(ns, "repo"),
        make_create(ns, packages.published, rev(packages.published), {"Kptfile": KPTFILE}),
        make_lifecycle(ns, packages.published, rev(packages.published), Lifecycle.PROPOSED),
        make_publish(ns, packages.published, rev(packages.published)),
        make_create(ns, packages.no_kptfile, rev(packages.no_kptfile), {"cm.yaml": "a: 1\n"}),
        make_lifecycle(ns, packages.no_kptfile, rev(packages.no_kptfile), Lifecycle.PROPOSED),
        make_create(ns, packages.draft, rev(packages.draft), GOOD),
    ]
    for intent in intents:
        outcome = await server.send(intent)
        assert isinstance(outcome, Applied), (intent.kind, outcome)
    assert isinstance(outcome, Applied)
    assert outcome.version is not None
    return outcome.version


async def logged(db: asyncpg.Connection, case: Case) -> asyncpg.Record | None:
    record: asyncpg.Record | None = await db.fetchrow(
        "SELECT status, reason, message FROM intent_log WHERE intent_id = $1", case.log_key
    )
    return record


async def refused_by_the_broker(settings: Settings, case: Case) -> None:
    assert case.intent is not None
    async with Publisher(settings, name="forger", user_id=FORGED_USER) as forger:
        with pytest.raises(PublishRefused, match="user_id"):
            await forger.publish(case.intent)


async def test_every_bad_delivery_is_answered_recorded_and_harmless(
    settings: Settings, db: asyncpg.Connection
) -> None:
    limited = settings.model_copy(
        update={
            "max_key_bytes": LIMITS.max_key_bytes,
            "max_value_bytes": LIMITS.max_value_bytes,
            "max_resources": LIMITS.max_resources,
            "max_intent_bytes": LIMITS.max_intent_bytes,
        }
    )
    packages = Packages.sharing_a_partition("bad", settings.partitions)
    cases = corpus(packages)
    problems: list[str] = []
    answered: Counter[str] = Counter()
    async with (
        running_writer(limited) as writer,
        Publisher(settings, name="good") as publisher,
    ):
        await consuming(writer)
        server = ServerProducer(publisher, timeout=30)
        version = await build(server, packages)
        async with RawSender.open(settings) as sender:
            for index, case in enumerate(cases):
                if case.prelude is not None:
                    first = await server.send(case.prelude)
                    assert isinstance(first, Applied), first
                    version = first.version or version
                before = await snapshot(db)
                if case.reason is None:
                    await refused_by_the_broker(settings, case)
                    if await logged(db, case) is not None:
                        problems.append(f"{case.name}: refused by the broker, yet logged")
                else:
                    await sender.publish(
                        case.body,
                        case.properties,
                        partition=packages.partition,
                        correlation_id=f"case-{index}",
                        reply=case.reply,
                    )
                    problems += await judge(db, sender, case, f"case-{index}", answered)
                if await snapshot(db) != before:
                    problems.append(f"{case.name}: porch's tables changed")
                # The partition goes on: a good push, compare-and-set on the draft's version
                # (so a bad intent that had touched the draft would show as a conflict here).
                good = make_push(
                    packages.namespace,
                    packages.draft,
                    packages.revision(packages.draft),
                    {"Kptfile": KPTFILE, "cm.yaml": f"good: {index + 1}\n"},
                    expected_version=version,
                )
                outcome = await server.send(good)
                if not isinstance(outcome, Applied) or outcome.version is None:
                    problems.append(f"after {case.name}: the good intent got {outcome}")
                    continue
                version = outcome.version
    record(
        FaultRecord(
            fault="bad deliveries (corpus)",
            injected=len(cases),
            intents=2 * len(cases),
            corrupt=sum("tables changed" in problem for problem in problems),
            lost=sum("no outcome" in problem or "not logged" in problem for problem in problems),
            details={
                "refused by the broker at publish": sum(case.reason is None for case in cases),
                "answered by reason": dict(sorted(answered.items())),
            },
        )
    )
    assert not problems, "\n".join(problems)
    assert len(cases) >= 40


async def judge(
    db: asyncpg.Connection,
    sender: RawSender,
    case: Case,
    correlation_id: str,
    answered: Counter[str],
) -> list[str]:
    """The case's outcome and its intent-log entry, or what is wrong with them."""
    assert case.reason is not None
    problems = []
    if case.reply:
        try:
            outcome = await sender.outcome(correlation_id)
        except AssertionError:
            return [f"{case.name}: no outcome"]
        if not isinstance(outcome, Rejected) or outcome.reason is not case.reason:
            problems.append(f"{case.name}: expected rejected/{case.reason.value}, got {outcome}")
        elif not outcome.message:
            problems.append(f"{case.name}: rejected without a message")
        else:
            answered[outcome.reason.value] += 1

    async def entry() -> asyncpg.Record | None:
        return await logged(db, case)

    try:
        row = await wait_until(entry, timeout=30, what=f"the log entry of {case.name}")
    except AssertionError:
        return [*problems, f"{case.name}: not logged"]
    assert row is not None
    if (row["status"], row["reason"]) != ("rejected", case.reason.value):
        problems.append(f"{case.name}: logged as {row['status']}/{row['reason']}")
    return problems
