"""Verification codes: the school prints one per student and sends it home; an unknown
number that writes it is linked (as a guardian, or as the student's own number)."""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Callable
from datetime import datetime
from typing import Final

import attrs

#: No look-alikes: no 0/O, 1/I/L.
ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH: Final = 8
#: Wrong codes from one number in a day before it is locked for the day.
MAX_WRONG_CODES: Final = 5
_CODE: Final = re.compile(
    rf"(?<![0-9A-Z])([{ALPHABET}]{{4}})[\s\-]?([{ALPHABET}]{{4}})(?![0-9A-Z])")
_PREFIX: Final = re.compile(r"^\s*(?:c[oó]digo|code)?\s*[:#]?\s*", re.IGNORECASE)


class CodePurpose(enum.StrEnum):
    GUARDIAN = "guardians"  # links the number as a guardian of the student
    STUDENT = "students"  # the number becomes the student's own


def new_code(randbelow: Callable[[int], int]) -> str:
    """8 characters of :data:`ALPHABET` (``secrets.randbelow`` in production)."""
    return "".join(ALPHABET[randbelow(len(ALPHABET))] for _ in range(CODE_LENGTH))


def display_code(code: str) -> str:
    """``ABCD2345`` → ``ABCD-2345``."""
    return f"{code[:4]}-{code[4:]}"


def code_hash(code: str) -> str:
    """Codes are stored as SHA-256 digests: a copy of the database redeems nothing."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def read_code(text: str) -> str | None:
    """The code a message consists of ("ABCD-2345", "abcd 2345", "código ABCD-2345"), or
    None when the message is anything else."""
    rest = _PREFIX.sub("", text[:60]).strip().upper().rstrip(".!")
    match = _CODE.fullmatch(rest)
    return None if match is None else match.group(1) + match.group(2)


def looks_like_code(text: str) -> bool:
    """8 letters/digits with a digit or a dash in them, or after "código": a wrong code
    too, so that it counts as an attempt."""
    head = text[:60]
    rest = _PREFIX.sub("", head).strip().upper().rstrip(".!")
    if re.fullmatch(r"[0-9A-Z]{4}[\s\-]?[0-9A-Z]{4}", rest) is None:
        return False
    said_code = re.match(r"^\s*(c[oó]digo|code)", head, re.IGNORECASE) is not None
    return said_code or "-" in rest or any(ch.isdigit() for ch in rest)


@attrs.define
class VerificationCode:
    code_hash: str
    student_id: int
    purpose: CodePurpose
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    used_by: str | None = None  # the E.164 that redeemed it
    revoked_at: datetime | None = None
    approved_at: datetime | None = None
    id: int | None = None

    def usable(self, now: datetime) -> bool:
        return self.used_at is None and self.revoked_at is None and now < self.expires_at

    @property
    def pending_approval(self) -> bool:
        """Redeemed, neither approved nor rejected (a rejection sets ``revoked_at``)."""
        return (self.used_at is not None and self.approved_at is None
                and self.revoked_at is None)
