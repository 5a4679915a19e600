"""The verifier's judgement of one package revision and of the intent log."""

from __future__ import annotations

import uuid
from typing import Any

from loadtest.content import KPTFILE, ContentBook, Shape, stamp
from loadtest.ledger import Ledger, Result, Status, WriteKind
from loadtest.verify import applied_twice, check_content, last_from_log, mismatched_outcomes

REVISION = "lt-repo.pkg-0000.v1"


def ledger_with_writes() -> tuple[Ledger, ContentBook]:
    book, ledger = ContentBook(Shape(packages=1, resources=6)), Ledger()
    for write, variant in (("s0.1", 0), ("s1.1", 1)):
        record = ledger.begin(write, WriteKind.PUSH, REVISION, book.bodies(0, variant))
        ledger.finish(record, Result(Status.APPLIED, version=1, intent_id=uuid.uuid4()))
    return ledger, book


def test_exactly_one_writes_full_set_is_fine() -> None:
    ledger, book = ledger_with_writes()
    content = stamp(book.bodies(0, 0), "s0.1")
    assert check_content(content, ledger) == []
    assert check_content(content, ledger, last_write="s0.1") == []


def test_a_mix_of_two_writes_is_named() -> None:
    ledger, book = ledger_with_writes()
    content = stamp(book.bodies(0, 0), "s0.1")
    content[KPTFILE] = stamp(book.bodies(0, 1), "s1.1")[KPTFILE]
    (problem,) = check_content(content, ledger)
    assert problem == "mixed from writes s0.1 (5), s1.1 (1)"


def test_a_missing_kptfile_is_named_and_the_set_is_incomplete() -> None:
    ledger, book = ledger_with_writes()
    content = stamp(book.bodies(0, 0), "s0.1")
    del content[KPTFILE]
    problems = check_content(content, ledger)
    assert problems[0] == "Kptfile missing"
    assert problems[1] == "not the full set of write s0.1: missing Kptfile"


def test_empty_revisions_and_blank_values() -> None:
    ledger, book = ledger_with_writes()
    assert check_content({}, ledger) == ["empty: no resources at all"]
    content = stamp(book.bodies(0, 0), "s0.1")
    content["config/cm-00.yaml"] = "# write: s0.1\n"
    problems = check_content(content, ledger)
    assert "empty resources: config/cm-00.yaml" in problems


def test_content_of_a_write_that_was_not_last() -> None:
    ledger, book = ledger_with_writes()
    content = stamp(book.bodies(0, 0), "s0.1")
    assert check_content(content, ledger, last_write="s1.1") == [
        "content of write s0.1 but last applied was s1.1"
    ]


def test_values_that_differ_from_the_write_are_caught() -> None:
    ledger, book = ledger_with_writes()
    content = stamp(book.bodies(0, 0), "s0.1")
    content["config/cm-01.yaml"] = "tampered\n# write: s0.1\n"
    assert check_content(content, ledger) == [
        "not the full set of write s0.1: other values in config/cm-01.yaml"
    ]


def test_unknown_writes_and_unmarked_values() -> None:
    ledger, _ = ledger_with_writes()
    assert check_content({KPTFILE: "kind: Kptfile\n# write: x9.9\n"}, ledger) == [
        "content of write x9.9, which wrote no resources in this run"
    ]
    assert "1 resources carry no write id" in check_content({KPTFILE: "kind: Kptfile\n"}, ledger)


def log_row(seq: int, intent: uuid.UUID, **fields: Any) -> dict[str, Any]:
    row = {
        "seq": seq,
        "intent_id": intent,
        "revision_name": REVISION,
        "kind": "resources_update",
        "status": "applied",
        "version": seq * 10,
    }
    row.update(fields)
    return row


def test_the_last_applied_resource_write_comes_from_the_log_order() -> None:
    ledger, _ = ledger_with_writes()
    first, second = (record.intent_id for record in ledger)
    assert first is not None
    assert second is not None
    rows = [
        log_row(1, second),
        log_row(2, first),
        log_row(3, uuid.uuid4(), kind="lifecycle_change"),
        log_row(4, uuid.uuid4(), kind="render_result", status="stale", version=None),
    ]
    assert last_from_log(rows, ledger) == {REVISION: "s0.1"}


def test_versions_must_strictly_increase_along_seq() -> None:
    intents = [uuid.uuid4() for _ in range(4)]
    rows = [
        log_row(1, intents[0], version=10),
        log_row(2, intents[1], version=20, kind="lifecycle_change"),
        log_row(3, intents[2], status="conflict", version=None),
        log_row(4, intents[3], version=30),
    ]
    assert applied_twice(rows) == []
    rows.append(log_row(5, intents[0], version=30))
    (problem,) = applied_twice(rows)
    assert f"intent {intents[0]} (seq 5) applied version 30, not above 30 (seq 4)" in problem


def test_received_outcomes_must_match_the_log() -> None:
    ledger, _ = ledger_with_writes()
    first, second = (record.intent_id for record in ledger)
    assert first is not None
    assert second is not None
    rows = [log_row(1, first, version=1), log_row(2, second, status="conflict", version=None)]
    (problem,) = mismatched_outcomes(rows, ledger)
    assert problem.startswith("write s1.1 (intent")
    assert "received ('applied', 1), the intent log holds ('conflict', None)" in problem
