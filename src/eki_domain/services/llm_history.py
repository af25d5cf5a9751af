"""The conversation so far, as the model reads it: the newest exchanges that fit a token
budget, without the message being answered."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

import attrs

from eki_domain.model.messages import HistoryEntry
from eki_domain.model.pagination import MAX_PAGE_SIZE
from eki_domain.ports.llm import ChatMessage

#: History entries read per turn beyond ``2 × history_turns`` (the current message, bursts).
HISTORY_SLACK: Final = 4
#: An unanswered inbound message this recent, with the current text, is the current message.
_CURRENT_WINDOW: Final = timedelta(minutes=30)
#: Inbox states of messages being answered right now (the current turn).
_IN_FLIGHT: Final = frozenset({"pending", "processing"})
#: Outbound messages the student never received are not history.
_UNDELIVERED: Final = frozenset({"failed"})
_MAX_HISTORY_REPLY_CHARS: Final = 1500


@attrs.frozen
class HistoryWindow:
    """How much history a turn reads and shows the model: the last ``turns`` exchanges
    within ``token_budget`` estimated tokens, student messages cut at ``max_user_chars``."""

    turns: int = 6
    token_budget: int = 600
    max_user_chars: int = 1000

    @property
    def enabled(self) -> bool:
        return self.turns > 0 and self.token_budget > 0

    @property
    def read_limit(self) -> int:
        """Entries to read (0: none): the exchanges, the current message and bursts."""
        return min(MAX_PAGE_SIZE, 2 * self.turns + HISTORY_SLACK) if self.enabled else 0

    def messages(self, entries: Sequence[HistoryEntry], *, current: str, now: datetime
                 ) -> list[ChatMessage]:
        if not self.enabled:
            return []
        return build_history(entries, current=current, now=now, turns=self.turns,
                             token_budget=self.token_budget,
                             max_user_chars=self.max_user_chars)


def estimate_tokens(text: str) -> int:
    """A cheap token estimate: one token per 4 characters (rounded up)."""
    return math.ceil(len(text) / 4)


def build_history(
    entries: Sequence[HistoryEntry],
    *,
    current: str,
    now: datetime,
    turns: int,
    token_budget: int,
    max_user_chars: int = 1000,
) -> list[ChatMessage]:
    """The conversation so far as chat messages, oldest first.

    ``entries`` come newest first (as ``History.page`` returns them). Only
    texts are kept: the student's messages (``user``) and what EKI sent (``assistant``);
    consecutive ones of one side are joined (a burst, a reply split in parts). The current
    message is left out: inbound messages still pending or being processed, and unanswered
    recent ones whose text is part of ``current``. Then the last ``turns`` exchanges (each
    starting at a student message) are kept, and the oldest dropped until the estimate fits
    ``token_budget``.
    """
    newest_first = [
        e
        for e in entries
        if e.text
        and e.text.strip()
        and not (e.direction == "in" and e.state in _IN_FLIGHT)
        and not (e.direction == "out" and e.state in _UNDELIVERED)
    ]
    skip = 0
    for entry in newest_first:
        if entry.direction != "in" or not _is_current(entry, current, now):
            break
        skip += 1
    newest_first = newest_first[skip:]

    messages: list[ChatMessage] = []
    for entry in reversed(newest_first):
        role = "user" if entry.direction == "in" else "assistant"
        limit = max_user_chars if role == "user" else _MAX_HISTORY_REPLY_CHARS
        text = (entry.text or "").strip()[:limit]
        if messages and messages[-1].role == role:
            joined = f"{messages[-1].content}\n{text}"[:limit]
            messages[-1] = ChatMessage(role=role, content=joined)
        else:
            messages.append(ChatMessage(role=role, content=text))

    starts = [i for i, m in enumerate(messages) if m.role == "user"]
    if not starts or turns <= 0:
        return []
    messages = messages[starts[-turns] if len(starts) >= turns else starts[0] :]

    kept: list[ChatMessage] = []
    used = 0
    for message in reversed(messages):
        cost = estimate_tokens(message.content or "")
        if used + cost > token_budget:
            break
        kept.append(message)
        used += cost
    kept.reverse()
    while kept and kept[0].role != "user":
        kept.pop(0)  # an answer whose question did not fit
    return kept


def _is_current(entry: HistoryEntry, current: str, now: datetime) -> bool:
    text = (entry.text or "").strip()
    if not text or text not in current:
        return False
    at = entry.at if entry.at.tzinfo is not None else entry.at.replace(tzinfo=UTC)
    return now - at <= _CURRENT_WINDOW
