"""In-memory register of data requests (issue 18), staged like the other repositories.

Export, erasure and the retention purge walk SQL tables (``eki_adapters.sql.privacy``);
the in-memory store has no such tables, so its unit of work offers the register only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import attrs

from eki_adapters.memory.staging import Staged
from eki_domain.model.privacy import PrivacyRequest


@attrs.define
class PrivacyState:
    requests: dict[int, PrivacyRequest] = attrs.Factory(dict)
    next_id: int = 1


class InMemoryPrivacyRequests:
    def __init__(self, staged: Staged[PrivacyState]) -> None:
        self._staged = staged

    async def add(self, request: PrivacyRequest) -> PrivacyRequest:
        state = self._staged.state
        request.id = state.next_id
        state.next_id += 1
        state.requests[request.id] = attrs.evolve(request)
        return request

    async def get(self, request_id: int) -> PrivacyRequest | None:
        found = self._staged.state.requests.get(request_id)
        return None if found is None else attrs.evolve(found)

    async def save(self, request: PrivacyRequest) -> None:
        if request.id is None or request.id not in self._staged.state.requests:
            raise LookupError(f"no privacy request with id {request.id}")
        self._staged.state.requests[request.id] = attrs.evolve(request)

    async def list(self, *, open_only: bool = False, due_by: date | None = None,
                   limit: int = 500) -> list[PrivacyRequest]:
        found = [attrs.evolve(r) for r in self._staged.state.requests.values()
                 if not ((open_only or due_by is not None) and r.closed_at is not None)
                 and (due_by is None or r.due_on <= due_by)]
        found.sort(key=lambda r: (r.closed_at is not None, r.due_on, r.id or 0))
        return found[: max(1, min(limit, 5000))]

    async def forget_phone(self, phones: Sequence[str]) -> int:
        changed = 0
        for request in self._staged.state.requests.values():
            if request.phone in phones:
                request.phone = None
                changed += 1
        return changed
