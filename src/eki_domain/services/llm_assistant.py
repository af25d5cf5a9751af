"""The LLM assistant: a language model with the student's tools, and a ladder that always
answers.

1. The model answers with tools (function calling). Tools are the sender's own
   :class:`~eki_domain.ports.assistant.StudentToolbox`: none takes a student id or a phone, so
   whatever the message says ("ignora tus instrucciones…", "eres admin…") the model can only
   read the sender's data.
2. When the caps are reached (``max_model_calls`` calls, ``max_tool_calls`` tool calls per
   turn), the last call is made with ``tool_choice="none"``: the model must answer with what it
   has. A cap never raises.
3. Any :class:`~eki_domain.ports.llm.ModelError`, unexpected exception or empty answer: the
   ``fallback`` assistant (the rule-based responder) answers through the same toolbox.

Before calling the model the student's tokens today and the global spend today are checked
against the budgets; beyond them the fallback answers with a short note. Every model call, ok
or failed, is written to the usage ledger with its cost.

Button payloads that name an intent, a bare menu number ("1".."5") and "menú" go straight to
the rule-based responder: they are commands of its menu, and answering them costs nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, timedelta
from typing import Final

from eki_domain.model.pricing import DEFAULT_PRICES, PriceTable
from eki_domain.ports.assistant import (
    Assistant,
    AssistantReply,
    StudentToolbox,
    Turn,
)
from eki_domain.ports.clock import Clock
from eki_domain.ports.llm import ChatMessage, LanguageModel
from eki_domain.ports.loaders import (
    ContextRequest,
    TurnContextLoader,
    UsageRecorder,
)
from eki_domain.ports.repositories import UnitOfWorkFactory
from eki_domain.ports.telemetry import NO_TELEMETRY, Telemetry
from eki_domain.services.formatting import COLOMBIA_UTC_OFFSET
from eki_domain.services.intents import Intent, detect_intent, normalize_text
from eki_domain.services.llm_budget import BUDGET_NOTE, SPEND_NOTE, Budgets
from eki_domain.services.llm_history import HistoryWindow, build_history, estimate_tokens
from eki_domain.services.llm_prompt import (
    SYSTEM_PROMPT,
    guardian_line,
    prompt_messages,
    safety_identifier,
    to_whatsapp,
)
from eki_domain.services.llm_tool_loop import ToolLoop, TurnFailed, TurnState
from eki_domain.services.loaders import UowTurnContext, UowUsageRecorder

__all__ = [
    "BUDGET_NOTE",
    "BUDGET_PREFIX",
    "FALLBACK_PREFIX",
    "LLM_INTENT",
    "SPEND_NOTE",
    "SYSTEM_PROMPT",
    "LLMAssistant",
    "build_history",
    "estimate_tokens",
    "safety_identifier",
    "to_whatsapp",
]

log = logging.getLogger("eki.assistant")

LLM_INTENT: Final = "llm"
FALLBACK_PREFIX: Final = "fallback:"
BUDGET_PREFIX: Final = "budget:"
_MENU_COMMANDS: Final = frozenset({"1", "2", "3", "4", "5", "menu", "el menu", "ver menu"})


class LLMAssistant:
    """An :class:`~eki_domain.ports.assistant.Assistant` backed by a language model.

    Storage is used twice per turn, never while the model thinks: ``context`` reads the
    student's budgets and conversation history before the first model call, ``usage``
    writes the turn's model calls to the ledger when it ends (``answer`` returns once they
    are committed). Both default to one unit of work from ``uow`` per call; ``bootstrap``
    passes batched ones (``eki_adapters.loaders``) so the turns running at the same moment
    share them. A process killed mid-turn loses its records: the turn is
    answered again, and its new calls are recorded. ``fallback`` answers whenever the
    model cannot (usually :class:`~eki_domain.services.responder.RuleBasedAssistant`); errors
    the fallback raises (a database down) propagate so the caller can retry the turn.

    Budgets: ``student_daily_tokens`` (prompt + completion tokens per student per UTC day;
    None: no limit) and ``daily_spend_usd`` (all students, per UTC day; None: no cap).
    ``utc_offset`` is the school's time zone, for telling the model today's date.
    """

    def __init__(
        self,
        model: LanguageModel,
        uow: UnitOfWorkFactory,
        clock: Clock,
        *,
        fallback: Assistant,
        prices: PriceTable = DEFAULT_PRICES,
        history_turns: int = 6,
        history_token_budget: int = 600,
        max_model_calls: int = 3,
        max_tool_calls: int = 4,
        max_input_chars: int = 1000,
        max_output_tokens: int = 500,
        student_daily_tokens: int | None = 40_000,
        daily_spend_usd: float | None = None,
        utc_offset: timedelta = COLOMBIA_UTC_OFFSET,
        rules_for_commands: bool = True,
        telemetry: Telemetry = NO_TELEMETRY,
        context: TurnContextLoader | None = None,
        usage: UsageRecorder | None = None,
        safety_key: Callable[[], Awaitable[bytes]] | None = None,
    ) -> None:
        for name, value, minimum in (
            ("history_turns", history_turns, 0),
            ("history_token_budget", history_token_budget, 0),
            ("max_model_calls", max_model_calls, 1),
            ("max_tool_calls", max_tool_calls, 0),
            ("max_input_chars", max_input_chars, 1),
            ("max_output_tokens", max_output_tokens, 1),
        ):
            if value < minimum:
                raise ValueError(f"{name} must be >= {minimum}, got {value}")
        self._clock, self._fallback, self._telemetry = clock, fallback, telemetry
        self._window = HistoryWindow(history_turns, history_token_budget, max_input_chars)
        self._budgets = Budgets(student_daily_tokens, daily_spend_usd)
        self._offset, self._rules_for_commands = utc_offset, rules_for_commands
        self._loop = ToolLoop(model, clock, prices=prices, max_model_calls=max_model_calls,
                              max_tool_calls=max_tool_calls,
                              max_output_tokens=max_output_tokens,
                              telemetry=telemetry, safety_key=safety_key)
        self._contexts = context if context is not None else UowTurnContext(uow)
        self._ledger = usage if usage is not None else UowUsageRecorder(uow)

    @property
    def model_name(self) -> str:
        return self._loop.model_name

    async def answer(self, turn: Turn, tools: StudentToolbox) -> AssistantReply:
        student_id = turn.student.id
        text = turn.text.strip()[: self._window.max_user_chars].strip()
        if student_id is None or not text or (self._rules_for_commands and _is_command(turn)):
            reply = await self._fallback.answer(turn, tools)
            self._telemetry.assistant_answer("rules")
            return reply

        note, history = await self._prepare(student_id, text)
        if note is not None:
            reply = await self._fallback.answer(turn, tools)
            self._telemetry.assistant_answer("budget")
            return AssistantReply(
                text=f"{reply.text}\n\n{note}",
                intent=BUDGET_PREFIX + reply.intent,
                tools=reply.tools,
            )

        state = TurnState(student_id=student_id)
        try:
            if history is None:
                raise TurnFailed  # the database could not be read: the rules answer
            today = (self._clock.now() + self._offset).date()
            if turn.guardian is not None:  # no student history for a guardian's turn
                history = []
            messages = prompt_messages(turn.student, today, history, text)
            if turn.guardian is not None:
                messages.insert(2, ChatMessage(role="system", content=guardian_line(turn)))
            answer = await self._loop.run(messages, tools, state)
        except TurnFailed:
            await self._flush_usage(state)
            return await self._fall_back(turn, tools, state)
        except Exception:
            self._telemetry.assistant_event("internal")
            log.exception("assistant turn failed for student %s; falling back", student_id)
            await self._flush_usage(state)
            return await self._fall_back(turn, tools, state)
        await self._flush_usage(state)
        self._telemetry.assistant_answer("llm")
        return AssistantReply(text=answer, intent=LLM_INTENT, tools=_unique(state.executed))

    async def _fall_back(
        self, turn: Turn, tools: StudentToolbox, state: TurnState
    ) -> AssistantReply:
        reply = await self._fallback.answer(turn, tools)
        self._telemetry.assistant_answer("fallback")
        return AssistantReply(
            text=reply.text,
            intent=FALLBACK_PREFIX + reply.intent,
            tools=_unique([*state.executed, *reply.tools]),
        )

    # -- budgets and history ----------------------------------------------------------------

    async def _prepare(
        self, student_id: int, text: str
    ) -> tuple[str | None, list[ChatMessage] | None]:
        """The budget note (None: within budget) and the prompt's history; history None when
        the database cannot be read."""
        if not self._window.enabled and not (self._budgets.tokens or self._budgets.spend):
            return None, []
        try:
            context = await self._contexts.load(self._context_request(student_id))
        except Exception:
            self._telemetry.assistant_event("internal")
            log.exception("could not read the history of student %s; the rules answer",
                          student_id)
            return None, None
        history = self._window.messages(context.entries, current=text, now=self._clock.now())
        return self._budgets.note(student_id, context), history

    def _context_request(self, student_id: int) -> ContextRequest:
        return ContextRequest(
            student_id, self._clock.now().astimezone(UTC).date(),
            history_limit=self._window.read_limit,
            tokens=self._budgets.tokens, spend=self._budgets.spend)

    # -- accounting --------------------------------------------------------------------------

    async def _flush_usage(self, state: TurnState) -> None:
        """Write the turn's model calls to the ledger (committed when this returns; in the
        same transaction as other turns' calls written at the same moment)."""
        if not state.usage:
            return
        records, state.usage = state.usage, []
        try:
            await self._ledger.record(records)
        except Exception:
            # Accounting must not cost the student the answer.
            self._telemetry.assistant_event("ledger_error")
            log.exception("could not record model usage")


def _is_command(turn: Turn) -> bool:
    """A menu command the rule-based responder answers exactly (a button, "1".."5", "menú")."""
    if turn.payload and detect_intent("", turn.payload) is not Intent.DESCONOCIDO:
        return True
    return normalize_text(turn.text) in _MENU_COMMANDS


def _unique(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))
