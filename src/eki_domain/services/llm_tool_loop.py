"""The LLM assistant's tool loop: call the model, run the tools it asks for (the sender's
own, nothing else), call it again, within caps; every call accounted for (cost, telemetry,
usage records the assistant writes when the turn ends)."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

import attrs

from eki_domain.model.pricing import PriceTable
from eki_domain.ports.assistant import StudentToolbox
from eki_domain.ports.clock import Clock
from eki_domain.ports.llm import (
    ChatMessage,
    LanguageModel,
    ModelError,
    ModelReply,
    ToolCall,
    ToolSpec,
    UsageRecord,
)
from eki_domain.ports.telemetry import Telemetry
from eki_domain.services.llm_prompt import safety_identifier, to_whatsapp

log = logging.getLogger("eki.assistant")

#: Longest tool result handed back to the model (the tools are compact; this is a guard).
_MAX_TOOL_RESULT_CHARS: Final = 12_000
#: Tool names kept per usage record (the ledger column is short).
_MAX_RECORDED_TOOLS: Final = 12
_MAX_TOOL_NAME: Final = 64
#: "4,5", "3.8", "94.5": a score-like number; a reply with one needs a tool result this turn.
_SCORE_LIKE: Final = re.compile(r"(?<![\d.,])\d{1,3}[.,]\d{1,2}(?!\d|[.,]\d)")


class TurnFailed(Exception):
    """The model's turn failed (already counted in telemetry): the fallback answers."""


@attrs.define
class TurnState:
    """What one turn has done so far (kept when it fails half way)."""

    student_id: int
    executed: list[str] = attrs.Factory(list)
    model_calls: int = 0
    tool_calls: int = 0
    grounded: bool = False  # a data tool returned a result this turn
    usage: list[UsageRecord] = attrs.Factory(list)  # written once, when the turn ends


class ToolLoop:
    """One model with the caps of a turn: ``max_model_calls`` calls and ``max_tool_calls``
    tool calls; the last call is made with ``tool_choice="none"`` so the model answers with
    what it has. ``telemetry`` counts what happens."""

    def __init__(self, model: LanguageModel, clock: Clock, *, prices: PriceTable,
                 max_model_calls: int, max_tool_calls: int, max_output_tokens: int,
                 telemetry: Telemetry,
                 safety_key: Callable[[], Awaitable[bytes]] | None = None) -> None:
        self._model = model
        self._safety_key_loader = safety_key
        self._safety_key: bytes | None = None
        self._clock = clock
        self._prices = prices
        self._max_model_calls = max_model_calls
        self._max_tool_calls = max_tool_calls
        self._max_output = max_output_tokens
        self._telemetry = telemetry
        self._warned_unpriced: set[str] = set()

    @property
    def model_name(self) -> str:
        return self._model.model

    async def _safety_key_bytes(self) -> bytes | None:
        """The secret key for :func:`safety_identifier`, loaded once."""
        if self._safety_key is None and self._safety_key_loader is not None:
            self._safety_key = await self._safety_key_loader()
        return self._safety_key

    async def run(self, messages: list[ChatMessage], tools: StudentToolbox, state: TurnState
                  ) -> str:
        """Call the model with ``messages``, run the tools it asks for and call it again,
        until it answers (or a cap makes the last call final). Raises :class:`TurnFailed`
        when the model fails or its answer cannot be used; the state keeps what was done."""
        schemas = list(tools.schemas())
        available = frozenset(tools.names())
        while True:
            final = (
                state.model_calls + 1 >= self._max_model_calls
                or state.tool_calls >= self._max_tool_calls
            )
            reply = await self._complete(messages, schemas, final=final, state=state)
            if final or not reply.tool_calls or not schemas:
                return self._final_text(reply, state)
            messages.append(
                ChatMessage(role="assistant", content=reply.content, tool_calls=reply.tool_calls)
            )
            for call in reply.tool_calls:
                content = await self._run_tool(call, tools, available, state)
                messages.append(ChatMessage(role="tool", content=content, tool_call_id=call.id))

    def _final_text(self, reply: ModelReply, state: TurnState) -> str:
        text = to_whatsapp(reply.content or "")
        if not text:
            self._telemetry.assistant_event("empty_answer")
            log.warning(
                "empty model answer for student %s (finish_reason=%s)",
                state.student_id,
                reply.finish_reason,
            )
            raise TurnFailed
        if not state.grounded and _SCORE_LIKE.search(text):
            # Grades only ever come from tool results: a score-like number with no tool
            # result this turn is a guess (or a stale one from history).
            self._telemetry.assistant_event("ungrounded")
            log.warning("ungrounded numbers in the model answer for student %s", state.student_id)
            raise TurnFailed
        return text

    async def _complete(
        self,
        messages: Sequence[ChatMessage],
        schemas: Sequence[ToolSpec],
        *,
        final: bool,
        state: TurnState,
    ) -> ModelReply:
        state.model_calls += 1
        if final and schemas and state.model_calls > 1:
            self._telemetry.assistant_event("final_call")
        started = time.monotonic()
        try:
            reply = await self._model.complete(
                list(messages),
                tools=list(schemas) or None,
                tool_choice=("none" if final else "auto") if schemas else None,
                safety_identifier=safety_identifier(state.student_id,
                                                    await self._safety_key_bytes()),
                max_output_tokens=self._max_output,
            )
        except ModelError as exc:
            log.warning(
                "model call failed for student %s: %s (%s)", state.student_id, exc.kind, exc.status
            )
            self._record_failure(state, str(exc.kind), started)
            raise TurnFailed from exc
        except Exception as exc:
            log.exception("model call crashed for student %s", state.student_id)
            self._record_failure(state, "unexpected", started)
            raise TurnFailed from exc
        self._record_reply(state, reply)
        return reply

    async def _run_tool(
        self,
        call: ToolCall,
        tools: StudentToolbox,
        available: frozenset[str],
        state: TurnState,
    ) -> str:
        """Run one tool call and return the tool message content (a result or an error)."""
        if state.tool_calls >= self._max_tool_calls:
            self._telemetry.tool_rejected("limit")
            return _tool_error(
                "Tool-call limit for this message reached; not executed. "
                "Answer with the results you already have."
            )
        state.tool_calls += 1
        name = call.name
        if name not in available:
            self._telemetry.tool_rejected("unknown_tool")
            return _tool_error(
                f"Unknown tool {name[:_MAX_TOOL_NAME]!r}; available tools: "
                f"{', '.join(sorted(available))}. Nothing was executed."
            )
        try:
            arguments = json.loads(call.arguments) if call.arguments.strip() else {}
        except ValueError:
            arguments = None
        if not isinstance(arguments, dict):
            self._telemetry.tool_rejected("invalid_arguments")
            return _tool_error(
                f"The arguments of {name} are not a valid JSON object; nothing "
                "was executed. Call it again with valid JSON arguments."
            )
        state.executed.append(name)
        self._telemetry.tool_use(name)
        try:
            result = await tools.call(name, arguments)
        except ValueError as exc:
            self._telemetry.tool_rejected("tool_error")
            return _tool_error(str(exc))
        state.grounded = True
        if isinstance(result, dict) and "first_name" in result and "name" in result:
            result = {**result, "name": result["first_name"]}  # the model never gets a surname
        # Compact separators: ~25% fewer prompt tokens than json.dumps' defaults.
        content = json.dumps(result, ensure_ascii=False, default=str, separators=(",", ":"))
        if len(content) > _MAX_TOOL_RESULT_CHARS:
            content = content[:_MAX_TOOL_RESULT_CHARS] + " …(truncated)"
        return content

    # -- accounting --------------------------------------------------------------------------

    def _cost(self, model: str, prompt: int, completion: int, cached: int) -> float:
        if not self._prices.knows(model):
            self._telemetry.assistant_event("unpriced_call")
            if model not in self._warned_unpriced:
                self._warned_unpriced.add(model)
                log.warning("no price for model %r: its calls are recorded at $0", model)
        return self._prices.cost(model, prompt, completion, cached)

    def _record_reply(self, state: TurnState, reply: ModelReply) -> None:
        usage = reply.usage
        model = reply.model or self._model.model
        cost = self._cost(model, usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens)
        self._telemetry.model_call(model, "ok", prompt_tokens=usage.prompt_tokens,
                                   completion_tokens=usage.completion_tokens,
                                   cached_tokens=usage.cached_tokens, cost_usd=cost)
        state.usage.append(
            UsageRecord(
                at=self._clock.now(),
                student_id=state.student_id,
                model=model[:100],
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                cached_tokens=usage.cached_tokens,
                cost_usd=cost,
                latency_ms=reply.latency_ms,
                outcome="ok",
                tools=tuple(
                    c.name[:_MAX_TOOL_NAME] for c in reply.tool_calls[:_MAX_RECORDED_TOOLS]
                ),
            )
        )

    def _record_failure(self, state: TurnState, outcome: str, started: float) -> None:
        self._telemetry.model_call(self._model.model, outcome, prompt_tokens=0,
                                   completion_tokens=0, cached_tokens=0, cost_usd=0.0)
        state.usage.append(
            UsageRecord(
                at=self._clock.now(),
                student_id=state.student_id,
                model=self._model.model[:100],
                prompt_tokens=0,
                completion_tokens=0,
                cached_tokens=0,
                cost_usd=0.0,
                latency_ms=int((time.monotonic() - started) * 1000),
                outcome=outcome,
            )
        )


def _tool_error(message: str) -> str:
    return json.dumps({"error": message}, ensure_ascii=False)
