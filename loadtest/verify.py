"""The end-of-run proof: is every package exactly what its last applied write put there?

Per package revision, its resources must all carry one write id, equal that write's full set
byte for byte, hold a Kptfile, and not be empty. Which write must it be: in the pipeline, the
last applied resource-writing intent of the revision in the writer's intent log (seq order);
in the locked mode the applied write with the highest version (its commit order); the direct
and legacy modes promise no order, so there only "exactly one write's full set" is checked.

In the pipeline, every intent the broker confirmed must have an outcome in the intent log (none
lost), no intent may have been applied twice (versions strictly increase along seq), and the outcome
each producer received must be the one the intent log recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg

from loadtest.content import KPTFILE, split_value, write_ids
from loadtest.ledger import Ledger, Status
from loadtest.modes import Mode
from loadtest.queries import QUERIES
from messages.intents import RESOURCE_WRITING_KINDS

MAX_NAMED = 5
_RECEIVED = frozenset({Status.APPLIED, Status.STALE, Status.CONFLICT, Status.REJECTED})
"""Outcomes a producer received first hand (not a duplicate's), comparable with the log."""

Row = Mapping[str, Any] | asyncpg.Record
"""An intent_log row: asyncpg's, or a plain mapping in unit tests."""


@dataclass(frozen=True)
class Corruption:
    revision: str
    problems: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"revision": self.revision, "problems": list(self.problems)}


@dataclass
class Verification:
    revisions_checked: int = 0
    corrupt: list[Corruption] = field(default_factory=list)
    lost: list[UUID] = field(default_factory=list)
    applied_twice: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    """Outcomes a producer received that differ from the intent log's record."""
    batch_sizes: list[int] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.corrupt or self.lost or self.applied_twice or self.mismatched)


def _named(ids: Iterable[str]) -> str:
    ordered = sorted(ids)
    shown = ", ".join(ordered[:MAX_NAMED])
    return shown + (f" and {len(ordered) - MAX_NAMED} more" if len(ordered) > MAX_NAMED else "")


def _difference(content: Mapping[str, str], expected: Mapping[str, str], write: str) -> str:
    missing, extra = set(expected) - set(content), set(content) - set(expected)
    parts = []
    if missing:
        parts.append(f"missing {_named(missing)}")
    if extra:
        parts.append(f"extra {_named(extra)}")
    changed = [key for key in expected if key in content and content[key] != expected[key]]
    if changed:
        parts.append(f"other values in {_named(changed)}")
    return f"not the full set of write {write}: " + "; ".join(parts)


def check_content(
    content: Mapping[str, str], ledger: Ledger, last_write: str | None = None
) -> list[str]:
    """What is wrong with one revision's resources (empty list: nothing)."""
    if not content:
        return ["empty: no resources at all"]
    problems = []
    if KPTFILE not in content:
        problems.append("Kptfile missing")
    blank = [key for key, value in content.items() if not split_value(value)[0].strip()]
    if blank:
        problems.append(f"empty resources: {_named(blank)}")
    counts = write_ids(content)
    unmarked = counts.pop(None, 0)
    if unmarked:
        problems.append(f"{unmarked} resources carry no write id")
    if len(counts) > 1:
        mix = ", ".join(f"{write} ({n})" for write, n in sorted(counts.items(), key=str))
        problems.append(f"mixed from writes {mix}")
    elif len(counts) == 1:
        write = next(iter(counts))
        assert write is not None
        record = ledger.get(write)
        expected = None if record is None else record.content()
        if expected is None:
            problems.append(f"content of write {write}, which wrote no resources in this run")
        elif content != expected:
            problems.append(_difference(content, expected, write))
        if last_write is not None and write != last_write:
            problems.append(f"content of write {write} but last applied was {last_write}")
    return problems


def last_from_log(rows: Sequence[Row], ledger: Ledger) -> dict[str, str]:
    """Per revision, the write id of the last applied resource-writing intent (seq order)."""
    last: dict[str, str] = {}
    for row in rows:  # ordered by seq
        if row["status"] != "applied" or row["kind"] not in RESOURCE_WRITING_KINDS:
            continue
        record = ledger.by_intent(row["intent_id"])
        last[row["revision_name"]] = (
            record.write_id if record else f"intent {row['intent_id']} (unknown to the ledger)"
        )
    return last


def applied_twice(rows: Sequence[Row]) -> list[str]:
    """Revisions whose applied versions do not strictly increase along seq."""
    seen: dict[str, tuple[int, int]] = {}
    problems = []
    for row in rows:
        if row["status"] != "applied" or row["version"] is None or row["revision_name"] is None:
            continue
        previous = seen.get(row["revision_name"])
        if previous is not None and row["version"] <= previous[1]:
            problems.append(
                f"{row['revision_name']}: intent {row['intent_id']} (seq {row['seq']}) applied "
                f"version {row['version']}, not above {previous[1]} (seq {previous[0]})"
            )
        seen[row["revision_name"]] = (row["seq"], row["version"])
    return problems


def mismatched_outcomes(rows: Sequence[Row], ledger: Ledger) -> list[str]:
    """Writes whose received outcome (status, version) is not what the intent log recorded."""
    logged = {row["intent_id"]: (row["status"], row["version"]) for row in rows}
    problems = []
    for record in ledger:
        if record.intent_id is None or record.status not in _RECEIVED:
            continue
        received = (str(record.status), record.version)
        recorded = logged.get(record.intent_id)
        if recorded is not None and recorded != received:
            problems.append(
                f"write {record.write_id} (intent {record.intent_id}) received {received}, "
                f"the intent log holds {recorded}"
            )
    return problems


async def _contents(connection: asyncpg.Connection, namespace: str) -> dict[str, dict[str, str]]:
    revisions = await connection.fetch(QUERIES["namespace_revisions"], namespace)
    contents: dict[str, dict[str, str]] = {row["k8s_name"]: {} for row in revisions}
    for row in await connection.fetch(QUERIES["namespace_resources"], namespace):
        contents.setdefault(row["k8s_name"], {})[row["resource_key"]] = row["resource_value"]
    return contents


async def wait_logged(
    connection: asyncpg.Connection, intents: Sequence[UUID], timeout: float
) -> list[UUID]:
    """Wait until every intent has a row in the intent log; returns those that never did."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        logged = await connection.fetchval(QUERIES["count_logged"], intents)
        if logged >= len(intents) or loop.time() >= deadline:
            break
        await asyncio.sleep(0.05)
    missing = await connection.fetch(QUERIES["missing_from_log"], intents)
    return [row["id"] for row in missing]


async def batch_sizes(connection: asyncpg.Connection, namespace: str) -> list[int] | None:
    """Intents per writer transaction (None while intent_log has no txid column)."""
    if not await connection.fetchval(QUERIES["log_has_txid"]):
        return None
    return [row["size"] for row in await connection.fetch(QUERIES["batch_sizes"], namespace)]


async def verify(
    connection: asyncpg.Connection,
    namespace: str,
    mode: Mode,
    ledger: Ledger,
    *,
    drain_timeout: float = 30.0,
) -> Verification:
    result = Verification()
    last: dict[str, str] = {}
    if mode is Mode.PIPELINE:
        confirmed = ledger.confirmed_intents()
        pending = any(record.status is Status.TIMEOUT for record in ledger)
        result.lost = await wait_logged(connection, confirmed, drain_timeout if pending else 0.0)
        rows = await connection.fetch(QUERIES["namespace_log"], namespace)
        last = last_from_log(rows, ledger)
        result.applied_twice = applied_twice(rows)
        result.mismatched = mismatched_outcomes(rows, ledger)
        result.batch_sizes = await batch_sizes(connection, namespace)
        if result.batch_sizes is None:
            result.notes.append("batch sizes: intent_log has no txid column yet, not measured")
    elif mode is Mode.LOCKED:
        last = {revision: record.write_id for revision, record in ledger.last_applied().items()}
    contents = await _contents(connection, namespace)
    result.revisions_checked = len(contents)
    for revision in sorted(contents):
        problems = check_content(contents[revision], ledger, last.get(revision))
        if problems:
            result.corrupt.append(Corruption(revision, tuple(problems)))
    return result
