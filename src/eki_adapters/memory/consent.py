"""In-memory consent ledger (tests, library users), staged like the other repositories."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from eki_adapters.memory.staging import Staged
from eki_domain.model.consent import ConsentDecision, ConsentRecord


@attrs.define
class ConsentState:
    records: list[ConsentRecord] = attrs.Factory(list)
    questions: dict[str, tuple[str, datetime]] = attrs.Factory(dict)
    next_id: int = 1


class InMemoryConsents:
    def __init__(self, staged: Staged[ConsentState]) -> None:
        self._staged = staged

    async def append(self, *records: ConsentRecord) -> None:
        state = self._staged.state
        for record in records:
            state.records.append(attrs.evolve(record, id=state.next_id))
            state.next_id += 1

    async def current_among(self, phones: Sequence[str], version: str
                            ) -> dict[str, ConsentDecision]:
        wanted = set(phones)
        found: dict[str, ConsentDecision] = {}
        for record in self._staged.state.records:  # in id order: the latest wins
            if record.phone in wanted and record.policy_version == version:
                found[record.phone] = record.decision
        return found

    async def history(self, phone: str) -> list[ConsentRecord]:
        return [r for r in self._staged.state.records if r.phone == phone]

    async def keep_question(self, phone: str, text: str, at: datetime) -> None:
        self._staged.state.questions[phone] = (text, at)

    async def kept_question(self, phone: str, since: datetime) -> str | None:
        kept = self._staged.state.questions.get(phone)
        return kept[0] if kept is not None and kept[1] >= since else None

    async def forget_question(self, phone: str) -> None:
        self._staged.state.questions.pop(phone, None)
