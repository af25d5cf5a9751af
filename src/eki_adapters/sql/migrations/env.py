"""Alembic environment. EKI runs migrations programmatically (see ``eki_adapters.sql.migrate``):
the caller hands over an open connection in ``config.attributes["connection"]``."""

from __future__ import annotations

from alembic import context

from eki_adapters.sql.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - guarded by eki_adapters.sql.migrate
    raise RuntimeError("run migrations with `eki db upgrade`, not the bare alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
