"""The JSON Schema of every intent and outcome, generated from the models and committed.

`python -m messages.schema` rewrites the files; `--check` fails when they are out of date.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from messages.fields import SCHEMA_VERSION
from messages.intents import INTENT_ADAPTER
from messages.outcomes import OUTCOME_ADAPTER

SCHEMA_DIR = Path(__file__).parent / "schema"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def generated() -> dict[str, str]:
    """File name -> the text it must hold."""
    documents: dict[str, dict[str, Any]] = {
        "intent.schema.json": INTENT_ADAPTER.json_schema(mode="validation"),
        "outcome.schema.json": OUTCOME_ADAPTER.json_schema(mode="serialization"),
    }
    texts = {}
    for name, schema in documents.items():
        document = {
            "$schema": DIALECT,
            "$id": f"https://porch-intents/schema/v{SCHEMA_VERSION}/{name}",
            "title": name.split(".")[0],
            **schema,
        }
        texts[name] = json.dumps(document, indent=2, sort_keys=True) + "\n"
    return texts


def stale_files() -> list[str]:
    return [
        name
        for name, text in generated().items()
        if not (SCHEMA_DIR / name).exists() or (SCHEMA_DIR / name).read_text() != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m messages.schema", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for name in stale:
            print(f"{SCHEMA_DIR / name} is stale: run python -m messages.schema", file=sys.stderr)
        return 1 if stale else 0
    SCHEMA_DIR.mkdir(exist_ok=True)
    for name, text in generated().items():
        (SCHEMA_DIR / name).write_text(text)
        print(f"wrote {SCHEMA_DIR / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
