"""The ``PasswordHasher`` port on argon2-cffi (Argon2id, RFC 9106)."""

from __future__ import annotations

import argon2
from argon2.exceptions import InvalidHashError, VerificationError


class Argon2PasswordHasher:
    """Argon2id with argon2-cffi's parameters (its ``RFC_9106_LOW_MEMORY`` profile by
    default: 64 MiB, 3 passes, 4 lanes — about 40 ms here). Hashes made with other
    parameters still verify, and :meth:`needs_rehash` tells the service to upgrade them at
    the next sign-in. Tests may pass cheaper parameters (``time_cost=1, memory_cost=8``)."""

    def __init__(self, *, time_cost: int | None = None, memory_cost: int | None = None,
                 parallelism: int | None = None) -> None:
        base = argon2.profiles.RFC_9106_LOW_MEMORY
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost or base.time_cost,
            memory_cost=memory_cost or base.memory_cost,
            parallelism=parallelism or base.parallelism,
            hash_len=base.hash_len, salt_len=base.salt_len, type=argon2.Type.ID)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except (InvalidHashError, ValueError):
            return True
