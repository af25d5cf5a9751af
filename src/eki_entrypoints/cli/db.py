"""``eki db upgrade`` and ``eki db status``: the database schema."""

from __future__ import annotations

import argparse
from typing import Any

from eki_entrypoints.cli.common import EXIT_FAILURE, EXIT_OK
from eki_entrypoints.settings import Settings


async def cmd_db_upgrade(settings: Settings, _args: argparse.Namespace) -> int:
    from eki_adapters.sql import create_engine, upgrade

    engine = create_engine(settings.database_url)
    try:
        before, after = await upgrade(engine)
    finally:
        await engine.dispose()
    if before == after:
        print(f"Database {settings.safe_database_url()} already at revision {after}.")
    else:
        print(f"Database {settings.safe_database_url()} upgraded: {before or 'empty'} → {after}.")
    return EXIT_OK


async def cmd_db_status(settings: Settings, _args: argparse.Namespace) -> int:
    from eki_adapters.sql import create_engine, current_revision, head_revision

    engine = create_engine(settings.database_url)
    try:
        current = await current_revision(engine)
    finally:
        await engine.dispose()
    head = head_revision()
    state = "up to date" if current == head else "behind: run `eki db upgrade`"
    print(f"Database {settings.safe_database_url()}: revision {current or 'none'}, "
          f"latest {head} ({state}).")
    return EXIT_OK if current == head else EXIT_FAILURE


def add_parser(sub: Any) -> None:
    """``sub`` is what ``ArgumentParser.add_subparsers()`` returned."""
    db = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    db.add_parser("upgrade", help="create or migrate the schema to the latest revision"
                  ).set_defaults(handler=cmd_db_upgrade)
    db.add_parser("status", help="show the schema revision (exit 1 when behind)"
                  ).set_defaults(handler=cmd_db_status)
