"""Migrations: the declared head, idempotent upgrades, and the indexes queries rely on."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from eki_adapters.sql import current_revision, is_at_head, upgrade
from eki_adapters.sql.migrate import SCHEMA_HEAD, alembic_head_revision
from eki_adapters.sql.tables import metadata


def test_declared_head_matches_the_migration_scripts() -> None:
    assert alembic_head_revision() == SCHEMA_HEAD


async def test_schema_is_at_head_and_upgrade_is_idempotent(engine: AsyncEngine) -> None:
    assert await is_at_head(engine)
    assert await upgrade(engine) == (SCHEMA_HEAD, SCHEMA_HEAD)
    assert await current_revision(engine) == SCHEMA_HEAD


async def test_migrated_schema_matches_the_table_definitions(engine: AsyncEngine) -> None:
    def inspect(sync: sa.Connection) -> dict[str, set[str]]:
        inspector = sa.inspect(sync)
        return {
            table: {c["name"] for c in inspector.get_columns(table)}
            for table in inspector.get_table_names()
            if table != "alembic_version"
        }

    async with engine.connect() as conn:
        columns = await conn.run_sync(inspect)
    assert columns == {t.name: {c.name for c in t.columns} for t in metadata.sorted_tables}


async def test_indexes_the_queries_need(engine: AsyncEngine) -> None:
    def indexes(sync: sa.Connection) -> dict[str, list[list[str | None]]]:
        inspector = sa.inspect(sync)
        return {
            table: [list(ix["column_names"]) for ix in inspector.get_indexes(table)]
            + [list(uq["column_names"]) for uq in inspector.get_unique_constraints(table)]
            for table in ("students", "student_tags", "tags", "inbound_messages",
                          "outbound_messages")
        }

    async with engine.connect() as conn:
        found = await conn.run_sync(indexes)
    assert ["phone"] in found["students"]
    assert any(cols[0] == "active" for cols in found["students"] if cols)
    assert ["tag_id", "student_id"] in found["student_tags"]
    assert ["name"] in found["tags"]
    assert ["received_at"] in found["inbound_messages"]  # the admin dashboard's windows
    assert ["created_at"] in found["outbound_messages"]


async def test_lookup_by_phone_uses_the_unique_index_on_postgres(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        return
    async with engine.begin() as conn:
        await conn.execute(sa.text(
            "INSERT INTO students (name, phone, wa_id, active, registered_at, updated_at) "
            "SELECT 'E' || i, '+57300' || lpad(i::text, 7, '0'), NULL, true, now(), now() "
            "FROM generate_series(1, 20000) AS i"))
        await conn.execute(sa.text("ANALYZE students"))
        plan = "\n".join(row[0] for row in await conn.execute(sa.text(
            "EXPLAIN SELECT id FROM students WHERE phone = '+573000001234'")))
        listing = "\n".join(row[0] for row in await conn.execute(sa.text(
            "EXPLAIN SELECT id FROM students WHERE active ORDER BY registered_at DESC "
            "LIMIT 50")))
        await conn.rollback()
    assert "uq_students_phone" in plan
    assert "ix_students_active_registered_at" in listing or "ix_students_registered_at" in listing
