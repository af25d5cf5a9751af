"""Inbox, outbox and conversation state over SQL (the old import path: the classes live in
:mod:`eki_adapters.sql.inbox`, :mod:`eki_adapters.sql.outbox` and
:mod:`eki_adapters.sql.conversations`)."""

from __future__ import annotations

from eki_adapters.sql.conversations import SqlHandoffs, SqlHistory, SqlOptOuts, SqlWebhookLog
from eki_adapters.sql.inbox import SqlInbox
from eki_adapters.sql.outbox import SqlOutbox

__all__ = ["SqlHandoffs", "SqlHistory", "SqlInbox", "SqlOptOuts", "SqlOutbox", "SqlWebhookLog"]
