"""The secret key: ``EKI_SECRET_KEY``, else a random key generated once and kept in the
database (table ``eki_secrets``) — never derived from a token. It signs the admin cookies
(``web/admin/session.py``) and keys the pseudonym sent to OpenAI (``safety_identifier``)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from eki_entrypoints.settings import Settings

log = logging.getLogger("eki.security")

#: The row of ``eki_secrets`` holding the generated key.
STORED_KEY_NAME = "session"


def new_key() -> str:
    return secrets.token_urlsafe(48)


def secret_key_loader(settings: Settings,
                      engine: AsyncEngine | None) -> Callable[[], Awaitable[bytes]]:
    """An async loader of the key (nothing connects until it is called). Without a
    database the key is random for this process."""
    process_key = new_key()

    async def load() -> bytes:
        if settings.secret_key is not None:
            return settings.secret_key.get().encode()
        if engine is None:
            return process_key.encode()
        from eki_adapters.sql.sessions import SqlSessionStore

        try:
            stored = await SqlSessionStore(engine).secret(STORED_KEY_NAME, new_key,
                                                           datetime.now(UTC))
        except Exception as exc:  # schema behind, database down: answering goes on
            log.warning("secret key not readable from the database (%s); using a key of "
                        "this process until it is", type(exc).__name__)
            return process_key.encode()
        return stored.encode()

    return load
