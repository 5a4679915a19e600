"""A write audit installed in a test's own database: every row change of porch's revision and
resource tables, with the transaction that made it.

It is the test's instrument, not the writer's: it lets a verifier count the effects of each
intent (exactly one revision write per applied intent, in the transaction that recorded it in
the intent log) and see whether two transactions ever wrote the same package interleaved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from writer.rows import version_of

INSTALL = """
CREATE TABLE fault_audit (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    txid      BIGINT NOT NULL DEFAULT txid_current(),
    tbl       TEXT NOT NULL,
    op        TEXT NOT NULL,
    namespace TEXT NOT NULL,
    revision  TEXT NOT NULL,
    updated   TIMESTAMPTZ
);

CREATE FUNCTION fault_audit_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO fault_audit (tbl, op, namespace, revision)
        VALUES (TG_TABLE_NAME, TG_OP, OLD.k8s_name_space, OLD.k8s_name);
        RETURN OLD;
    END IF;
    INSERT INTO fault_audit (tbl, op, namespace, revision, updated)
    VALUES (TG_TABLE_NAME, TG_OP, NEW.k8s_name_space, NEW.k8s_name, NEW.updated);
    RETURN NEW;
END $$;

CREATE FUNCTION fault_audit_resource() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO fault_audit (tbl, op, namespace, revision)
        VALUES (TG_TABLE_NAME, TG_OP, OLD.k8s_name_space, OLD.k8s_name);
        RETURN OLD;
    END IF;
    INSERT INTO fault_audit (tbl, op, namespace, revision)
    VALUES (TG_TABLE_NAME, TG_OP, NEW.k8s_name_space, NEW.k8s_name);
    RETURN NEW;
END $$;

CREATE TRIGGER fault_audit AFTER INSERT OR UPDATE OR DELETE ON package_revisions
    FOR EACH ROW EXECUTE FUNCTION fault_audit_revision();
CREATE TRIGGER fault_audit AFTER INSERT OR UPDATE OR DELETE ON resources
    FOR EACH ROW EXECUTE FUNCTION fault_audit_resource();
"""


@dataclass(frozen=True)
class AuditRow:
    id: int
    txid: int
    table: str
    op: str
    namespace: str
    revision: str
    version: int | None
    """The revision's version after the write (package_revisions rows only)."""


async def install(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(INSTALL)
    finally:
        await connection.close()


def _version(updated: datetime | None) -> int | None:
    return None if updated is None else version_of(updated)


async def audit_rows(db: asyncpg.Connection, namespace: str) -> list[AuditRow]:
    records = await db.fetch(
        "SELECT id, txid, tbl, op, namespace, revision, updated FROM fault_audit "
        "WHERE namespace = $1 ORDER BY id",
        namespace,
    )
    return [
        AuditRow(
            id=record["id"],
            txid=record["txid"],
            table=record["tbl"],
            op=record["op"],
            namespace=record["namespace"],
            revision=record["revision"],
            version=_version(record["updated"]),
        )
        for record in records
    ]
