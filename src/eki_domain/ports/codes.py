"""The verification codes port."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from eki_domain.model.codes import CodePurpose, VerificationCode


class VerificationCodes(Protocol):
    async def issue(self, code: VerificationCode) -> VerificationCode:
        """Store a new code; the student's earlier unused codes of the same purpose are
        revoked (at ``code.created_at``)."""
        ...

    async def find(self, code_hash: str) -> VerificationCode | None: ...

    async def redeem(self, code_id: int, at: datetime, by: str, *, approved: bool) -> bool:
        """Mark the code used by ``by``; False when it was used or revoked already (only one
        caller ever gets True)."""
        ...

    async def approve(self, code_id: int, at: datetime) -> bool:
        """False unless the code was redeemed and is still waiting (neither approved nor
        rejected)."""
        ...

    async def reject(self, code_id: int, at: datetime) -> bool:
        """Refuse a redemption waiting for approval (``revoked_at`` on a used code): it
        links nobody and leaves the pending list; False unless it was waiting."""
        ...

    async def pending(self, purpose: CodePurpose | None = None) -> Sequence[VerificationCode]:
        """Redeemed codes waiting for approval (not rejected), oldest first."""
        ...
