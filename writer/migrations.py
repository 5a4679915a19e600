"""Create the database if needed and apply the numbered migrations in `sql/migrations/`.

Safe to run from several processes at once: the database creation tolerates a concurrent
creator, and a session advisory lock lets one process apply migrations while the others wait
and then find nothing left to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg
import structlog

from writer.errors import MigrationError
from writer.gateway import Gateway

MIGRATION_LOCK_CLASS = 0x706F7264
"""Advisory lock class of the migrator ('pord'); the batch uses another class."""
MIGRATION_LOCK_KEY = 1
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_MAINTENANCE_DATABASE = "postgres"

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    script: str


def load_migrations() -> list[Migration]:
    """The migration files in version order; a gap or a stray file is an error."""
    folder = files("writer").joinpath("sql", "migrations")
    migrations = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"migration file {entry.name!r} is not named NNNN_name.sql")
        script = entry.read_text(encoding="utf-8")
        migrations.append(Migration(int(match[1]), entry.name.removesuffix(".sql"), script))
    migrations.sort(key=lambda migration: migration.version)
    expected = list(range(1, len(migrations) + 1))
    if [migration.version for migration in migrations] != expected:
        raise MigrationError(f"migrations must be numbered 1..N without gaps: {migrations}")
    return migrations


async def migrate(database_url: str) -> list[str]:
    """Apply the migrations not applied yet; returns their names (empty when up to date)."""
    connection = await _connect_creating(database_url)
    try:
        gateway = Gateway(connection)
        await gateway.lock_migrations(MIGRATION_LOCK_CLASS, MIGRATION_LOCK_KEY)
        try:
            return await _apply_pending(gateway)
        finally:
            await gateway.unlock_migrations(MIGRATION_LOCK_CLASS, MIGRATION_LOCK_KEY)
    finally:
        await connection.close()


async def _apply_pending(gateway: Gateway) -> list[str]:
    await gateway.create_migrations_table()
    applied = await gateway.applied_migrations()
    names = []
    for migration in load_migrations():
        if migration.version in applied:
            continue
        # Each in its own transaction: a failing migration leaves the earlier ones recorded.
        async with gateway.connection.transaction():
            await gateway.run_script(migration.script)
            await gateway.record_migration(migration.version, migration.name)
        log.info("migration_applied", migration=migration.name)
        names.append(migration.name)
    return names


async def _connect_creating(database_url: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(database_url)
    except asyncpg.InvalidCatalogNameError:
        pass
    parts = urlsplit(database_url)
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise MigrationError("the database URL names no database")
    admin = await asyncpg.connect(urlunsplit(parts._replace(path="/" + _MAINTENANCE_DATABASE)))
    try:
        await Gateway(admin).create_database(name)
        log.info("database_created", database=name)
    except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
        # Another process created it meanwhile; two concurrent CREATE DATABASE can also clash
        # on the catalog's unique index instead of the friendly error.
        pass
    finally:
        await admin.close()
    return await asyncpg.connect(database_url)
