"""The local Redis for tests: ``EKI_TEST_REDIS_URL`` (default redis://127.0.0.1:6379/0).

Tests never flush it: each uses its own random key prefix and deletes its keys. When Redis
is unreachable the Redis cases are skipped, unless ``EKI_REQUIRE_REDIS=1`` (CI), which turns
that into a failure.
"""

from __future__ import annotations

import os
import secrets
import socket
from urllib.parse import urlsplit

import pytest

REDIS_URL = os.environ.get("EKI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_REDIS = os.environ.get("EKI_REQUIRE_REDIS") == "1"


def redis_url_or_skip() -> str:
    """The test Redis's URL, once a PING has answered PONG."""
    parts = urlsplit(REDIS_URL)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            answer = sock.recv(64)
    except OSError as exc:
        answer = f"{exc}".encode()
    if not answer.startswith((b"+PONG", b"-NOAUTH")):
        message = f"Redis not reachable at {host}:{port}: {answer[:80]!r}"
        if REQUIRE_REDIS:
            pytest.fail(message + " (EKI_REQUIRE_REDIS=1)", pytrace=False)
        pytest.skip(message)
    return REDIS_URL


def random_prefix() -> str:
    return f"eki-test-{secrets.token_hex(6)}:"
