"""The writer's SQL, loaded once from `sql/queries.sql` into a name -> statement mapping."""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib.resources import files
from types import MappingProxyType

_HEADER = re.compile(r"^-- name: ([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


class QueryFileError(Exception):
    """The queries file is malformed."""


def parse_queries(text: str) -> dict[str, str]:
    """Split a file of `-- name: <name>` sections into {name: statement}."""
    parts = _HEADER.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]; the preamble is the file's comment.
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise QueryFileError(f"query {name!r} is defined twice")
        statement = body.strip()
        if not statement:
            raise QueryFileError(f"query {name!r} is empty")
        queries[name] = statement
    return queries


def sql_text(name: str) -> str:
    return files("writer").joinpath("sql", name).read_text(encoding="utf-8")


QUERIES: Mapping[str, str] = MappingProxyType(parse_queries(sql_text("queries.sql")))
