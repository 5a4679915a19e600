"""The SQL file parses, every gateway operation has its statement, the dispatch is complete."""

from __future__ import annotations

import inspect
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from messages.intents import INTENT_KINDS
from writer.apply import HANDLERS
from writer.gateway import Gateway
from writer.queries import QUERIES, QueryFileError, parse_queries
from writer.rows import version_of


def test_parse_queries_splits_on_name_headers() -> None:
    text = "-- preamble\n\n-- name: one\nSELECT 1;\n\n-- name: two\n-- why\nSELECT $1;\n"
    assert parse_queries(text) == {"one": "SELECT 1;", "two": "-- why\nSELECT $1;"}


@pytest.mark.parametrize(
    "text", ["-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n", "-- name: a\n\n-- name: b\nX;\n"]
)
def test_parse_queries_refuses_duplicates_and_empty_statements(text: str) -> None:
    with pytest.raises(QueryFileError):
        parse_queries(text)


def test_every_query_the_gateway_names_exists_and_every_query_is_used() -> None:
    source = inspect.getsource(Gateway)
    used = set(re.findall(r'QUERIES\["([a-z_]+)"\]', source))
    assert used == set(QUERIES)


def test_every_intent_kind_has_a_handler() -> None:
    assert set(HANDLERS) == INTENT_KINDS


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        datetime(2262, 4, 11, 23, 47, 16, 854775, tzinfo=UTC),
        datetime(2024, 5, 6, 9, 8, 9, 999999, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_version_is_exact_microseconds_since_the_epoch(moment: datetime) -> None:
    seconds = int(moment.timestamp() // 1)  # whole seconds are exact in a float
    assert version_of(moment) == seconds * 1_000_000 + moment.microsecond


def test_versions_of_neighbouring_microseconds_differ_by_one() -> None:
    # A float product would collapse these for dates far from the epoch.
    moment = datetime(2200, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    assert version_of(moment + timedelta(microseconds=1)) - version_of(moment) == 1
