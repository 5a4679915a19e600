"""At start, wait for the database and make sure its schema is the one this writer needs."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog

from messages.settings import Settings
from writer.errors import SchemaNotReady
from writer.gateway import Gateway
from writer.migrations import load_migrations
from writer.transient import is_transient

log = structlog.get_logger(__name__)


async def wait_for_schema(pool: asyncpg.Pool, stop: asyncio.Event, settings: Settings) -> bool:
    """True once the schema is current; False if stopped while the database was unreachable.

    Raises `SchemaNotReady` when the database answers but lacks migrations.
    """
    needed = {migration.version for migration in load_migrations()}
    backoff = settings.retry_initial_s
    while not stop.is_set():
        try:
            async with pool.acquire(timeout=10) as connection:
                applied = await Gateway(connection).applied_migrations()
        except (asyncpg.UndefinedTableError, asyncpg.InvalidCatalogNameError):
            applied = set()
        except Exception as error:
            if not is_transient(error):
                raise
            log.warning("database.unreachable", error=repr(error), retry_in_s=backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, settings.retry_max_s)
            continue
        missing = sorted(needed - applied)
        if missing:
            raise SchemaNotReady(
                f"the database lacks migration(s) {missing}: run `porch-writer migrate` first"
            )
        return True
    return False
