"""HTTP retry helpers shared by adapters: the channels' retry policy (Meta Cloud API,
Twilio) and reading a ``Retry-After`` header (also the OpenAI adapter).

Only a :class:`~eki_domain.errors.DeliveryError` that is not permanent is retried, with
exponential backoff plus jitter — or the server's ``Retry-After`` when it sent one — both
capped at ``backoff_max``; each retry is logged with the masked recipient only.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from eki_domain.errors import DeliveryError


class DeliveryRetry:
    def __init__(self, *, max_attempts: int, backoff_initial: float, backoff_max: float,
                 logger: logging.Logger) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.max_attempts = max_attempts
        self._backoff_max = backoff_max
        # backoff_initial * 2**(n-1), plus up to backoff_initial of jitter (capped in _wait).
        self._backoff = wait_exponential(multiplier=backoff_initial, max=backoff_max) + wait_random(
            0, backoff_initial
        )
        self._logger = logger

    def retrying(self, masked_to: str) -> AsyncRetrying:
        """A fresh tenacity controller for one send to ``masked_to``."""
        return AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(_is_transient),
            before_sleep=lambda state: self._log_retry(state, masked_to),
            reraise=True,
        )

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, DeliveryError) and exc.retry_after is not None:
            return min(max(exc.retry_after, 0.0), self._backoff_max)
        return min(float(self._backoff(state)), self._backoff_max)

    def _log_retry(self, state: RetryCallState, masked_to: str) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        code = exc.code if isinstance(exc, DeliveryError) else type(exc).__name__
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        self._logger.warning("send to %s failed (code=%s), attempt %d/%d, retrying in %.2fs",
                             masked_to, code, state.attempt_number, self.max_attempts, delay)


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, DeliveryError) and not exc.permanent


def header_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)
