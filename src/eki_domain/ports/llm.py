"""The language-model port (OpenAI or any compatible server) and the usage ledger."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Protocol

import attrs

from eki_domain.errors import EkiError


@attrs.frozen
class ToolSpec:
    """A function the model may call, in no provider's shape (the adapter renders it, e.g.
    ``eki_adapters.openai.chat_completions_tool``). ``parameters`` is the JSON Schema of its
    arguments object; ``strict``: the model must follow it exactly (every property
    required, no other one)."""

    name: str
    description: str
    parameters: Mapping[str, Any]
    strict: bool = True


@attrs.frozen
class ToolCall:
    id: str
    name: str
    arguments: str  # the raw JSON text the model produced (it may be invalid)


@attrs.frozen
class ChatMessage:
    """One message of a chat-completions conversation."""

    role: str  # "system" | "user" | "assistant" | "tool"
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None  # for role "tool": the call it answers


@attrs.frozen
class ModelUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@attrs.frozen
class ModelReply:
    content: str | None
    tool_calls: tuple[ToolCall, ...]
    usage: ModelUsage
    model: str
    latency_ms: int
    finish_reason: str | None = None


class ModelErrorKind(enum.StrEnum):
    RATE_LIMITED = "rate_limited"  # 429, retried by the adapter, then given up
    QUOTA = "quota"  # 429 insufficient_quota: not retried
    TIMEOUT = "timeout"
    NETWORK = "network"
    SERVER = "server"  # 5xx
    BAD_REQUEST = "bad_request"  # 400/404/422
    AUTH = "auth"  # 401/403
    INVALID_RESPONSE = "invalid_response"


class ModelError(EkiError):
    """The model could not answer; ``kind`` says why (the assistant then falls back)."""

    code = "MODEL_ERROR"

    def __init__(self, message: str, *, kind: ModelErrorKind, status: int | None = None):
        super().__init__(message, code=f"MODEL_{kind.upper()}")
        self.kind = kind
        self.status = status


class LanguageModel(Protocol):
    @property
    def model(self) -> str: ...

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] | None = None,
        tool_choice: str | None = None,
        safety_identifier: str | None = None,
        max_output_tokens: int | None = None,
    ) -> ModelReply:
        """One chat completion. ``tools`` are the functions the model may call (neutral
        specs: the adapter renders its provider's shape). Retries transient failures
        itself and raises :class:`ModelError` when it gives up."""
        ...

    async def aclose(self) -> None:
        """Release what the model holds (its HTTP clients); nothing to do is fine."""
        ...


@attrs.frozen
class UsageRecord:
    """One model call, for cost accounting and budgets."""

    at: datetime
    student_id: int | None
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_usd: float
    latency_ms: int
    outcome: str  # "ok" | a ModelErrorKind value
    tools: tuple[str, ...] = ()


class UsageLedger(Protocol):
    async def record(self, *usage: UsageRecord) -> None:
        """Append these model calls (one statement for all of them)."""
        ...

    async def tokens_for(self, student_id: int, day: date) -> int:
        """Prompt + completion tokens the student used on ``day`` (UTC)."""
        ...

    async def spend_on(self, day: date) -> float:
        """Dollars spent on ``day`` (UTC), all students."""
        ...
