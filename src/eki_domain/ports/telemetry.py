"""Telemetry: what the services report as it happens, for metrics.

Services call one method per event; the default :data:`NO_TELEMETRY` does nothing, so a
library user needs nothing. ``eki_adapters.prometheus.PrometheusTelemetry`` turns the events
into Prometheus counters and histograms. Implementations must be cheap and must never raise:
they run inside the message pipeline.

Labels are small closed sets (message types, delivery statuses, WhatsApp error codes, model
names, tool names, import kinds) — never a phone, a name or a text.
"""

from __future__ import annotations

from typing import Protocol


class Telemetry(Protocol):
    def webhook_request(self, outcome: str) -> None:
        """A webhook POST ended: ``accepted``, or the refusal's error code in lower case
        (``signature_missing``, ``signature_invalid``, ``invalid_json``,
        ``payload_too_large``, ``webhook_not_configured``…), or ``error``."""
        ...

    def inbound_message(self, type: str) -> None:
        """An inbound message was processed (counted once, when its turn commits)."""
        ...

    def reply_queued(self, seconds: float) -> None:
        """A reply was queued ``seconds`` after the oldest message it answers arrived."""
        ...

    def outbound_result(self, status: str, error_code: str | None, seconds: float | None
                        ) -> None:
        """A send attempt ended: ``sent`` (``seconds`` from queued to accepted by the
        channel), ``retry`` or ``failed`` with the channel's error code."""
        ...

    def model_call(self, model: str, outcome: str, *, prompt_tokens: int,
                   completion_tokens: int, cached_tokens: int, cost_usd: float) -> None:
        """One language-model call: ``ok`` or the failure kind."""
        ...

    def assistant_answer(self, source: str) -> None:
        """Who answered a turn of the LLM assistant: ``llm``, ``fallback`` (the model
        failed), ``budget`` (a budget was spent) or ``rules`` (a menu command)."""
        ...

    def tool_use(self, tool: str) -> None:
        """The model ran one of the student's tools."""
        ...

    def tool_rejected(self, reason: str) -> None:
        """A tool call of the model was not run or failed: ``limit`` (the turn's cap),
        ``unknown_tool``, ``invalid_arguments``, ``tool_error``."""
        ...

    def assistant_event(self, reason: str) -> None:
        """Something worth counting in an LLM-assistant turn: ``empty_answer``,
        ``ungrounded`` (numbers without a tool result), ``internal`` (the turn crashed; each
        of these made the fallback answer), ``final_call`` (a cap made the model answer
        without tools), ``ledger_error`` (model calls not recorded), ``unpriced_call``."""
        ...

    def import_rows(self, kind: str, outcome: str, count: int) -> None:
        """Rows of a (not dry-run) import: ``created``, ``updated``, ``unchanged``,
        ``rejected``."""
        ...

    def opt_out(self) -> None: ...

    def handoff(self) -> None: ...

    def sender_rate_limited(self) -> None:
        """A sender went over the inbound flood limit (counted once per window)."""
        ...

    def request_rate_limited(self, rule: str) -> None:
        """An HTTP client went over a per-IP rate limit (``api``, ``login``…)."""
        ...


class NullTelemetry:
    """Telemetry that records nothing (the default)."""

    def webhook_request(self, outcome: str) -> None:
        pass

    def inbound_message(self, type: str) -> None:
        pass

    def reply_queued(self, seconds: float) -> None:
        pass

    def outbound_result(self, status: str, error_code: str | None, seconds: float | None
                        ) -> None:
        pass

    def model_call(self, model: str, outcome: str, *, prompt_tokens: int,
                   completion_tokens: int, cached_tokens: int, cost_usd: float) -> None:
        pass

    def assistant_answer(self, source: str) -> None:
        pass

    def tool_use(self, tool: str) -> None:
        pass


    def import_rows(self, kind: str, outcome: str, count: int) -> None:
        pass

    def tool_rejected(self, reason: str) -> None:
        pass

    def opt_out(self) -> None:
        pass

    def handoff(self) -> None:
        pass

    def assistant_event(self, reason: str) -> None:
        pass

    def sender_rate_limited(self) -> None:
        pass

    def request_rate_limited(self, rule: str) -> None:
        pass


NO_TELEMETRY: Telemetry = NullTelemetry()
