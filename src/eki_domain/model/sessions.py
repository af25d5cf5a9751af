"""What the admin session store keeps about one sign-in besides its id and expiry."""

from __future__ import annotations

import attrs


@attrs.frozen
class SessionRecord:
    #: The member signed in; None for a break-glass sign-in with ``EKI_ADMIN_TOKEN``.
    staff_id: int | None
    #: The account's ``session_epoch`` when the session opened.
    epoch: int = 0
