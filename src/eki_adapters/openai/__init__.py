"""The OpenAI Chat Completions adapter (also any OpenAI-compatible server)."""

from __future__ import annotations

from eki_adapters.openai.chat_model import (
    DEFAULT_MODEL,
    QUOTA_CODE,
    OpenAIChatModel,
    chat_completions_tool,
    is_retryable,
    to_model_error,
    to_openai_messages,
)

__all__ = [
    "DEFAULT_MODEL",
    "QUOTA_CODE",
    "OpenAIChatModel",
    "chat_completions_tool",
    "is_retryable",
    "to_model_error",
    "to_openai_messages",
]
