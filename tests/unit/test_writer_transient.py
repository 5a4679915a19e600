"""Which database failures halt-and-retry, and which reject the one intent."""

from __future__ import annotations

import asyncpg
import pytest

from writer.transient import database_message, is_data_error, is_transient

TRANSIENT = [
    asyncpg.PostgresConnectionError("connection lost"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.ConnectionFailureError("failure"),
    asyncpg.ClientCannotConnectError("cannot connect"),
    asyncpg.InterfaceError("cannot perform operation: connection is closed"),
    ConnectionResetError("reset by peer"),
    ConnectionRefusedError("refused"),
    OSError("network is unreachable"),
    TimeoutError(),
    asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.CrashShutdownError("crash"),
    asyncpg.CannotConnectNowError("the database system is starting up"),
    asyncpg.TooManyConnectionsError("too many clients"),
    asyncpg.SerializationError("could not serialize access"),
    asyncpg.DeadlockDetectedError("deadlock detected"),
    asyncpg.LockNotAvailableError("canceling statement due to lock timeout"),
    asyncpg.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction"),
    asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
    asyncpg.DiskFullError("no space left"),
]

DATA_ERRORS = [
    asyncpg.UniqueViolationError("duplicate key"),
    asyncpg.ForeignKeyViolationError("violates foreign key constraint"),
    asyncpg.CheckViolationError("violates check constraint"),
    asyncpg.NotNullViolationError("null value"),
    asyncpg.CharacterNotInRepertoireError("invalid byte sequence for encoding UTF8: 0x00"),
    asyncpg.InvalidTextRepresentationError("invalid input syntax"),
    asyncpg.NumericValueOutOfRangeError("out of range"),
    asyncpg.ProgramLimitExceededError("index row size exceeds maximum"),
]

NEITHER = [
    asyncpg.UndefinedTableError('relation "resources" does not exist'),
    asyncpg.PostgresSyntaxError("syntax error"),
    asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
    ValueError("a bug"),
    KeyError("kind"),
]


@pytest.mark.parametrize("error", TRANSIENT, ids=lambda error: type(error).__name__)
def test_transient_errors_halt_and_retry(error: BaseException) -> None:
    assert is_transient(error)
    assert not is_data_error(error)


@pytest.mark.parametrize("error", DATA_ERRORS, ids=lambda error: type(error).__name__)
def test_data_errors_are_not_transient(error: BaseException) -> None:
    assert not is_transient(error)
    assert is_data_error(error)


@pytest.mark.parametrize("error", NEITHER, ids=lambda error: type(error).__name__)
def test_bugs_are_neither_transient_nor_data_errors(error: BaseException) -> None:
    assert not is_transient(error)
    assert not is_data_error(error)


def test_database_message_carries_the_detail() -> None:
    error = asyncpg.ForeignKeyViolationError(
        'insert or update on table "packages" violates foreign key constraint "fk_repository"'
    )
    error.detail = (
        'Key (k8s_name_space, repo_k8s_name)=(ns, gone) is not present in table "repositories".'
    )
    assert database_message(error).startswith("insert or update on table")
    assert "(ns, gone) is not present" in database_message(error)
