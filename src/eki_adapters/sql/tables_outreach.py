"""The communication loop's tables: consent (issue 18), data requests and retention
(issue 18), the staff inbox (issue 15) and academic alerts (issue 16). Same ``metadata`` as
:mod:`eki_adapters.sql.tables`, which re-exports every table defined here:"""

from __future__ import annotations

import sqlalchemy as sa

from eki_adapters.sql.tables_base import BigId, UTCDateTime, metadata

# -- consent (issue 18; migration 0017) -----------------------------------------------------

#: The consent ledger (issue 18): append-only, one row per decision (and per child a guardian
#: decided for). No foreign keys: the proof of an authorisation outlives roster changes;
#: erasure finds the rows by phone.
consent_records = sa.Table(
    "consent_records",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("phone", sa.String(16), nullable=False),
    sa.Column("role", sa.String(10), nullable=False),
    sa.Column("decision", sa.String(10), nullable=False),
    sa.Column("medium", sa.String(10), nullable=False),
    sa.Column("policy_version", sa.String(40), nullable=False),
    sa.Column("decided_at", UTCDateTime(), nullable=False),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
    sa.Column("student_id", BigId, nullable=True),
    sa.Column("guardian_id", BigId, nullable=True),
    sa.Column("message_id", sa.String(200), nullable=True),
    sa.Column("recorded_by", sa.String(254), nullable=True),
    sa.Index("ix_consent_records_phone_policy_version_id", "phone", "policy_version", "id"),
)

#: What a person asked before consenting, answered right after ACEPTO (then deleted).
consent_questions = sa.Table(
    "consent_questions",
    metadata,
    sa.Column("phone", sa.String(16), primary_key=True),
    sa.Column("question", sa.String(1000), nullable=False),
    sa.Column("asked_at", UTCDateTime(), nullable=False),
)

# -- privacy (issue 18; migration 0018) -----------------------------------------------------

#: The register of data requests (Ley 1581): consultas (10 business days) and reclamos (15).
#: ``phone`` is cleared when the person's data is erased; ``reference`` (an HMAC of the
#: number) stays as proof the request was handled.
privacy_requests = sa.Table(
    "privacy_requests",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("phone", sa.String(16), nullable=True),
    sa.Column("reference", sa.String(40), nullable=False),
    sa.Column("opened_at", UTCDateTime(), nullable=False),
    sa.Column("opened_by", sa.String(254), nullable=False),
    sa.Column("due_on", sa.Date(), nullable=False),
    sa.Column("note", sa.String(500), nullable=False),
    sa.Column("closed_at", UTCDateTime(), nullable=True),
    sa.Column("closed_by", sa.String(254), nullable=True),
    sa.Index("ix_privacy_requests_closed_at_due_on", "closed_at", "due_on"),
    sa.Index("ix_privacy_requests_phone", "phone"),
)

#: Daily counts of what the retention purge deleted (UTC days): messages in and out, model
#: calls, tokens and spend survive the raw rows.
daily_counts = sa.Table(
    "daily_counts",
    metadata,
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("inbound", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("outbound", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("llm_calls", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("llm_tokens", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("llm_cost_usd", sa.Float(), nullable=False, server_default="0"),
)

# -- the staff inbox (issue #15) ----------------------------------------------------------

inbox_notes = sa.Table(
    "inbox_notes",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("student_id", BigId, nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),  # note | event
    sa.Column("event", sa.String(40), nullable=True),
    sa.Column("author", sa.String(254), nullable=True),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Index("ix_inbox_notes_student_id_at", "student_id", "at"),
)

quick_replies = sa.Table(
    "quick_replies",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("shortcut", sa.String(30), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("updated_by", sa.String(254), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("shortcut", name="uq_quick_replies_shortcut"),
)

inbox_seen = sa.Table(
    "inbox_seen",
    metadata,
    sa.Column("reader", sa.String(254), primary_key=True),
    sa.Column("student_id", BigId, primary_key=True),
    sa.Column("seen_at", UTCDateTime(), nullable=False),
)

# -- academic alerts (issue 16) ----------------------------------------------------------------

#: A rule's stored switch and template (NULL columns follow the settings).
alert_rules = sa.Table(
    "alert_rules",
    metadata,
    sa.Column("rule", sa.String(20), primary_key=True),
    sa.Column("enabled", sa.Boolean(), nullable=True),
    sa.Column("template", sa.String(512), nullable=True),
    sa.Column("language", sa.String(15), nullable=True),
    sa.Column("enabled_since", UTCDateTime(), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=True),
    sa.Column("updated_by", sa.String(254), nullable=True),
)

#: One row per alert and recipient: the unique key makes each alert go out at most once.
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("student_id", BigId, sa.ForeignKey("students.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("rule", sa.String(20), nullable=False),
    sa.Column("item", sa.String(100), nullable=False),
    sa.Column("recipient", sa.String(16), nullable=False),
    sa.Column("recipient_kind", sa.String(10), nullable=False),
    sa.Column("guardian_id", BigId, nullable=True),
    sa.Column("outbound_id", BigId, nullable=True),
    sa.Column("template", sa.String(512), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("student_id", "rule", "item", "recipient",
                        name="uq_alerts_student_id_rule_item_recipient"),
    sa.Index("ix_alerts_recipient_created_at", "recipient", "created_at"),
    sa.Index("ix_alerts_created_at", "created_at"),
)

#: "no más alertas de …": the rules a person (phone) asked not to receive.
alert_opt_outs = sa.Table(
    "alert_opt_outs",
    metadata,
    sa.Column("phone", sa.String(16), primary_key=True),
    sa.Column("rule", sa.String(20), primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)
