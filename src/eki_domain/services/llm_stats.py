"""Counters of the LLM assistant since start (``LLMAssistant.stats``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping


class AssistantStats(Mapping[str, object]):
    """Counters since start, for the metrics endpoint. Read it like a dict (``stats["calls"]``,
    ``dict(stats)``) or through the attributes. Updated without awaiting in between, so
    concurrent turns on one event loop never lose a count.

    ``turns``: answers given; ``llm_answers``: answered by the model; ``rule_turns``: menu
    commands answered by the rules directly; ``calls``: model calls; ``final_calls``: calls made
    with ``tool_choice="none"`` because a cap was reached; ``errors``: failures by kind
    (:class:`ModelErrorKind` values, ``unexpected``, ``empty_answer``, ``ungrounded``,
    ``internal``); ``fallbacks``: answers by the fallback after a failure; ``budget_blocks``:
    answers by the fallback because a budget was spent; ``tool_uses``: tools run, by name;
    ``tool_errors``: tool calls answered with an error, by reason.
    """

    def __init__(self) -> None:
        self.turns = 0
        self.llm_answers = 0
        self.rule_turns = 0
        self.calls = 0
        self.final_calls = 0
        self.errors: Counter[str] = Counter()
        self.fallbacks = 0
        self.budget_blocks = 0
        self.tool_uses: Counter[str] = Counter()
        self.tool_errors: Counter[str] = Counter()
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cached_tokens = 0
        self.cost_usd = 0.0
        self.ledger_errors = 0
        self.unpriced_calls = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "turns": self.turns,
            "llm_answers": self.llm_answers,
            "rule_turns": self.rule_turns,
            "calls": self.calls,
            "final_calls": self.final_calls,
            "errors": dict(self.errors),
            "fallbacks": self.fallbacks,
            "budget_blocks": self.budget_blocks,
            "tool_uses": dict(self.tool_uses),
            "tool_errors": dict(self.tool_errors),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_tokens": self.cached_tokens,
            "cost_usd": self.cost_usd,
            "ledger_errors": self.ledger_errors,
            "unpriced_calls": self.unpriced_calls,
        }

    def __getitem__(self, key: str) -> object:
        return self.as_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())

    def __repr__(self) -> str:
        return f"AssistantStats({self.as_dict()!r})"
