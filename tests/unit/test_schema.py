"""The committed JSON Schema is what the models generate, and it describes real intents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from messages import schema
from tests.samples import one_of_each_kind


def test_the_committed_schema_is_up_to_date() -> None:
    assert schema.stale_files() == [], "run: python -m messages.schema"


def test_the_check_command_fails_on_a_stale_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schema, "SCHEMA_DIR", tmp_path)
    assert schema.main(["--check"]) == 1
    assert schema.main([]) == 0
    assert schema.main(["--check"]) == 0


def test_the_intent_schema_names_every_kind() -> None:
    document = json.loads((schema.SCHEMA_DIR / "intent.schema.json").read_text())
    kinds = set(document["discriminator"]["mapping"])
    assert kinds == {intent.kind for intent in one_of_each_kind()}


def test_the_outcome_schema_names_every_status() -> None:
    document = json.loads((schema.SCHEMA_DIR / "outcome.schema.json").read_text())
    statuses = set(document["discriminator"]["mapping"])
    assert statuses == {"applied", "duplicate", "stale", "conflict", "rejected", "dead_lettered"}
