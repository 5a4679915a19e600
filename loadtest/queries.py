"""The load test's SQL, loaded once from `sql/queries.sql` into a name -> statement mapping."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.resources import files
from types import MappingProxyType

# The writer's parser of `-- name:` sections: one format for every .sql file of the project.
from writer.queries import parse_queries

QUERIES: Mapping[str, str] = MappingProxyType(
    parse_queries(files("loadtest").joinpath("sql", "queries.sql").read_text(encoding="utf-8"))
)
