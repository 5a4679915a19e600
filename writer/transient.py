"""Classify database failures: halt-and-retry (transient) or reject the intent (data error).

A transient failure says nothing about the intent: the same batch must be retried once the
database is back. A data error is the intent's own fault and is answered with
`constraint_violation`. Anything else (a bug, a missing table) is neither: it propagates, and
the broker's delivery limit dead-letters a delivery that keeps crashing the writer.
"""

from __future__ import annotations

import asyncpg

TRANSIENT_SQLSTATES = frozenset(
    {
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (starting up, recovering)
        "57014",  # query_canceled (statement timeout, pg_cancel_backend)
        "53000",  # insufficient_resources
        "53100",  # disk_full
        "53200",  # out_of_memory
        "53300",  # too_many_connections
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "40003",  # statement_completion_unknown
        "55P03",  # lock_not_available (lock_timeout)
        "25006",  # read_only_sql_transaction: connected to a standby after failover
    }
)
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08"})  # connection exceptions

DATA_ERROR_SQLSTATE_CLASSES = frozenset(
    {
        "22",  # data exception: invalid text (NUL byte), out of range values
        "23",  # integrity constraint violation: check, foreign key, unique, not null
        "54",  # program limit exceeded: a value too large for an index or a row
    }
)


def _sqlstate(error: BaseException) -> str | None:
    state = getattr(error, "sqlstate", None)
    return state if isinstance(state, str) else None


def is_transient(error: BaseException) -> bool:
    """Whether retrying the same work later can succeed without changing it."""
    if isinstance(error, asyncpg.PostgresConnectionError | OSError | TimeoutError):
        return True
    if isinstance(error, asyncpg.InterfaceError) and "closed" in str(error):
        # "connection is closed": the connection died between two statements.
        return True
    state = _sqlstate(error)
    if isinstance(error, asyncpg.PostgresError) and state is not None:
        return state in TRANSIENT_SQLSTATES or state[:2] in TRANSIENT_SQLSTATE_CLASSES
    return False


def is_data_error(error: BaseException) -> bool:
    """Whether the database refused the data of one intent (not the writer, not the service)."""
    state = _sqlstate(error)
    return (
        isinstance(error, asyncpg.PostgresError)
        and state is not None
        and state[:2] in DATA_ERROR_SQLSTATE_CLASSES
    )


def database_message(error: BaseException) -> str:
    """The database's own words, with its detail (which row, which key) when it gave one."""
    message = getattr(error, "message", None) or str(error)
    detail = getattr(error, "detail", None)
    return f"{message} ({detail})" if detail else str(message)
