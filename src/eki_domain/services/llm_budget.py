"""The LLM assistant's daily budgets: tokens per student and dollars for the school."""

from __future__ import annotations

import logging
from typing import Final

import attrs

from eki_domain.ports.loaders import TurnContext

log = logging.getLogger("eki.assistant")

#: Appended to the fallback's answer when the student's daily token budget is spent.
BUDGET_NOTE: Final = (
    "_(Hoy ya respondí muchas preguntas con IA; te contesto con el menú básico. Mañana vuelvo "
    "a responder con IA.)_"
)
#: Appended when the school's daily spend cap is reached.
SPEND_NOTE: Final = "_(Hoy ya respondí muchas preguntas con IA; te contesto con el menú básico.)_"


@attrs.frozen
class Budgets:
    """``student_daily_tokens``: prompt + completion tokens per student per UTC day;
    ``daily_spend_usd``: dollars for all students per UTC day (None: no limit)."""

    student_daily_tokens: int | None = 40_000
    daily_spend_usd: float | None = None

    @property
    def tokens(self) -> bool:
        return self.student_daily_tokens is not None

    @property
    def spend(self) -> bool:
        return self.daily_spend_usd is not None

    def note(self, student_id: int, context: TurnContext) -> str | None:
        """The note for a spent budget (None: within budget, or the ledger could not be
        read: budgets fail open)."""
        used, spent = context.used_tokens, context.spent
        limit = self.student_daily_tokens
        if limit is not None and used is not None and used >= limit:
            log.info("student %s spent the daily token budget (%d tokens)", student_id, used)
            return BUDGET_NOTE
        cap = self.daily_spend_usd
        if cap is not None and spent is not None and spent >= cap:
            log.warning("daily model spend cap reached: $%.4f", spent)
            return SPEND_NOTE
        return None
