"""The schema, as SQLAlchemy Core tables. Migrations in ``migrations/`` create it."""

from __future__ import annotations

import sqlalchemy as sa

from eki_adapters.sql.tables_base import BigId as BigId
from eki_adapters.sql.tables_base import UTCDateTime as UTCDateTime
from eki_adapters.sql.tables_base import metadata as metadata

students = sa.Table(
    "students",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("phone", sa.String(16), nullable=False, unique=True),
    sa.Column("wa_id", sa.String(20), nullable=True),
    sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("registered_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("number_changed_at", UTCDateTime(), nullable=True),
    sa.Column("new_wa_id", sa.String(64), nullable=True),
    sa.Index("ix_students_active_registered_at", "active", sa.text("registered_at DESC")),
    sa.Index("ix_students_registered_at", sa.text("registered_at DESC")),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("name", sa.String(50), nullable=False, unique=True),
)

student_tags = sa.Table(
    "student_tags",
    metadata,
    # No foreign keys on purpose: PostgreSQL checks them with one trigger call per row,
    # ~1.1 s per 100,000 imported tag assignments (half the import). EKI never deletes
    # tags, and whoever deletes a student deletes its student_tags rows in the same
    # transaction (SqlStudentRepository does).
    sa.Column("student_id", BigId, primary_key=True),
    sa.Column("tag_id", BigId, primary_key=True),
    sa.Index("ix_student_tags_tag_id_student_id", "tag_id", "student_id"),
)

import_jobs = sa.Table(
    "import_jobs",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("file", sa.String(255), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("mode", sa.String(10), nullable=False),
    sa.Column("dry_run", sa.Boolean(), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("rows_read", sa.Integer(), nullable=False),
    sa.Column("created", sa.Integer(), nullable=False),
    sa.Column("updated", sa.Integer(), nullable=False),
    sa.Column("unchanged", sa.Integer(), nullable=False),
    sa.Column("errors", sa.Integer(), nullable=False),
    sa.Column("warnings", sa.Integer(), nullable=False),
    sa.Column("duration_ms", sa.Integer(), nullable=False),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Column("finished_at", UTCDateTime(), nullable=False),
    # JSON {"headers": [...], "rows": [[row, [cells...], "errors"], ...]} for the errors file
    sa.Column("failed_rows", sa.Text(), nullable=True),
    sa.Index("ix_import_jobs_kind_finished_at", "kind", sa.text("finished_at DESC")),
)

# One row per kind of import; a transaction that updates it holds the import lock
# on SQLite (PostgreSQL uses an advisory lock instead).
import_locks = sa.Table(
    "import_locks",
    metadata,
    sa.Column("name", sa.String(30), primary_key=True),
    sa.Column("acquired_at", UTCDateTime(), nullable=True),
)

webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Column("signature_ok", sa.Boolean(), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("note", sa.Text(), nullable=True),
    sa.Index("ix_webhook_events_received_at", sa.text("received_at DESC")),
)

inbound_messages = sa.Table(
    "inbound_messages",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("provider_id", sa.String(200), nullable=False),
    sa.Column("wa_id", sa.String(64), nullable=False),
    sa.Column("profile_name", sa.String(200), nullable=True),
    sa.Column("student_id", BigId, nullable=True),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("text", sa.Text(), nullable=True),
    sa.Column("payload", sa.String(256), nullable=True),
    sa.Column("context_id", sa.String(200), nullable=True),
    sa.Column("media_id", sa.String(200), nullable=True),
    sa.Column("mime_type", sa.String(100), nullable=True),
    sa.Column("is_voice", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("reaction_to", sa.String(200), nullable=True),
    sa.Column("reaction_emoji", sa.String(32), nullable=True),
    sa.Column("system_type", sa.String(50), nullable=True),
    sa.Column("new_wa_id", sa.String(64), nullable=True),
    sa.Column("raw", sa.Text(), nullable=False),
    sa.Column("sent_at", UTCDateTime(), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Column("state", sa.String(12), nullable=False),
    sa.Column("available_at", UTCDateTime(), nullable=False),
    sa.Column("lease_until", UTCDateTime(), nullable=True),
    sa.Column("claim_token", sa.String(40), nullable=True),
    sa.Column("claimed_by", sa.String(100), nullable=True),  # worker id (heartbeats)
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("processed_at", UTCDateTime(), nullable=True),
    sa.Column("intent", sa.String(40), nullable=True),
    sa.UniqueConstraint("channel", "provider_id", name="uq_inbound_messages_channel_provider_id"),
    # Partial indexes keep the worker's queries proportional to the work waiting, not to
    # every message ever received.
    sa.Index("ix_inbound_messages_pending", "sent_at", "id",
             postgresql_where=sa.text("state = 'pending'"),
             sqlite_where=sa.text("state = 'pending'")),
    sa.Index("ix_inbound_messages_pending_sender", "wa_id",
             postgresql_where=sa.text("state = 'pending'"),
             sqlite_where=sa.text("state = 'pending'")),
    sa.Index("ix_inbound_messages_processing", "wa_id", "lease_until",
             postgresql_where=sa.text("state = 'processing'"),
             sqlite_where=sa.text("state = 'processing'")),
    sa.Index("ix_inbound_messages_student_id_received_at", "student_id",
             sa.text("received_at DESC")),
    sa.Index("ix_inbound_messages_received_at", "received_at"),  # the dashboard's window
    # The 24-hour window: the newest inbound timestamp of one person.
    sa.Index("ix_inbound_messages_wa_id_sent_at", "wa_id", sa.text("sent_at DESC")),
)

message_statuses = sa.Table(
    "message_statuses",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("provider_id", sa.String(200), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("recipient", sa.String(64), nullable=True),
    sa.Column("error_code", sa.String(20), nullable=True),
    sa.Column("error_title", sa.Text(), nullable=True),
    sa.Column("raw", sa.Text(), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Column("applied", sa.Boolean(), nullable=False),
    sa.Index("ix_message_statuses_provider_id", "provider_id"),
    sa.Index("ix_message_statuses_received_at", "received_at"),  # the retention purge
)

#: The outbox's two lanes (issue #16), as partial-index predicates the claims repeat
#: word for word (the planner then uses the index).
PRIORITY_DUE = "status = 'queued' AND purpose IN ('reply', 'staff')"
BULK_DUE = "status = 'queued' AND purpose IN ('broadcast', 'alert')"

outbound_messages = sa.Table(
    "outbound_messages",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("student_id", BigId, nullable=True),
    sa.Column("inbound_id", BigId, nullable=True),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("to_wa_id", sa.String(64), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("reply_to", sa.String(200), nullable=True),
    sa.Column("mark_read", sa.String(200), nullable=True),
    sa.Column("intent", sa.String(40), nullable=True),
    sa.Column("tools", sa.String(400), nullable=True),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("provider_id", sa.String(200), nullable=True),
    sa.Column("error_code", sa.String(20), nullable=True),
    sa.Column("error_title", sa.Text(), nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("lease_until", UTCDateTime(), nullable=True),
    sa.Column("claimed_by", sa.String(100), nullable=True),  # worker id (heartbeats)
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    # Staff messages (issue #15): who wrote it, and the template sent instead of text.
    sa.Column("author", sa.String(254), nullable=True),
    sa.Column("template_name", sa.String(512), nullable=True),
    sa.Column("template_language", sa.String(15), nullable=True),
    sa.Column("template_params", sa.Text(), nullable=True),  # a JSON list of strings
    sa.Column("content_sid", sa.String(34), nullable=True),
    # Broadcasts and alerts (issue #16): why the row exists (reply|staff|broadcast|alert),
    # the broadcast it belongs to, and when a business-initiated row was first claimed
    # (the daily limit counts unique recipients over a rolling 24 h of it).
    sa.Column("purpose", sa.String(10), nullable=False, server_default="reply"),
    sa.Column("broadcast_id", BigId, nullable=True),
    sa.Column("initiated_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("provider_id", name="uq_outbound_messages_provider_id"),
    sa.UniqueConstraint("broadcast_id", "to_wa_id",
                        name="uq_outbound_messages_broadcast_recipient"),
    sa.Index("ix_outbound_messages_due_priority", "next_attempt_at", "id",
             postgresql_where=sa.text(PRIORITY_DUE), sqlite_where=sa.text(PRIORITY_DUE)),
    sa.Index("ix_outbound_messages_due_bulk", "next_attempt_at", "id",
             postgresql_where=sa.text(BULK_DUE), sqlite_where=sa.text(BULK_DUE)),
    sa.Index("ix_outbound_messages_initiated", "initiated_at", "to_wa_id",
             postgresql_where=sa.text("initiated_at IS NOT NULL"),
             sqlite_where=sa.text("initiated_at IS NOT NULL")),
    sa.Index("ix_outbound_messages_due", "next_attempt_at", "id",
             postgresql_where=sa.text("status = 'queued'"),
             sqlite_where=sa.text("status = 'queued'")),
    sa.Index("ix_outbound_messages_open", "to_wa_id", "id",
             postgresql_where=sa.text("status IN ('queued', 'sending')"),
             sqlite_where=sa.text("status IN ('queued', 'sending')")),
    sa.Index("ix_outbound_messages_student_id_created_at", "student_id",
             sa.text("created_at DESC")),
    sa.Index("ix_outbound_messages_created_at", "created_at"),  # the dashboard's window
)

#: Template broadcasts (issue #16); their recipients are outbox rows with ``broadcast_id``.
broadcasts = sa.Table(
    "broadcasts",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("template_name", sa.String(512), nullable=False),
    sa.Column("template_language", sa.String(15), nullable=False),
    sa.Column("params", sa.Text(), nullable=False),  # a JSON list of strings
    sa.Column("tags", sa.Text(), nullable=False),  # a JSON list of tag names
    sa.Column("all_tags", sa.Boolean(), nullable=False),
    sa.Column("recipients_kind", sa.String(10), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("scheduled_at", UTCDateTime(), nullable=True),
    sa.Column("started_at", UTCDateTime(), nullable=True),
    sa.Column("queued_at", UTCDateTime(), nullable=True),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("created_by", sa.String(254), nullable=False),
    sa.Column("recipients", sa.Integer(), nullable=False),
    sa.Column("excluded", sa.Text(), nullable=False),  # a JSON object: reason → count
    sa.Index("ix_broadcasts_state", "state"),
)

#: Numbers Meta said are not on WhatsApp (error 131026): left out of broadcast audiences.
no_whatsapp = sa.Table(
    "no_whatsapp",
    metadata,
    sa.Column("wa_id", sa.String(64), primary_key=True),
    sa.Column("marked_at", UTCDateTime(), nullable=False),
    sa.Column("error_code", sa.String(20), nullable=False),
)

opt_outs = sa.Table(
    "opt_outs",
    metadata,
    sa.Column("phone", sa.String(20), primary_key=True),
    sa.Column("student_id", BigId, nullable=True),
    sa.Column("opted_out_at", UTCDateTime(), nullable=False),
)

handoffs = sa.Table(
    "handoffs",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("student_id", BigId, nullable=False),
    sa.Column("wa_id", sa.String(64), nullable=False),
    sa.Column("requested_at", UTCDateTime(), nullable=False),
    sa.Column("released_at", UTCDateTime(), nullable=True),
    sa.Column("released_by", sa.String(100), nullable=True),
    sa.Column("assigned_to", sa.String(254), nullable=True),
    sa.Column("assigned_at", UTCDateTime(), nullable=True),
    sa.Column("last_staff_at", UTCDateTime(), nullable=True),
    sa.Index("ix_handoffs_student_id_released_at", "student_id", "released_at"),
)

message_templates = sa.Table(
    "message_templates",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("name", sa.String(512), nullable=False),
    sa.Column("language", sa.String(15), nullable=False),
    sa.Column("category", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("content_sid", sa.String(34), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("name", "language", name="uq_message_templates_name_language"),
)

# -- school data ------------------------------------------------------------------------------
# Courses are identified by (name, period); period '' stands for "no period" so the unique
# constraints work the same on PostgreSQL and SQLite (NULLs are never equal).

courses = sa.Table(
    "courses",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("period", sa.String(50), nullable=False, server_default=""),
    sa.Column("code", sa.String(50), nullable=True),
    sa.UniqueConstraint("name", "period", name="uq_courses_name_period"),
)

enrollments = sa.Table(
    "enrollments",
    metadata,
    sa.Column("student_id", BigId, primary_key=True),
    sa.Column("course_id", BigId, primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Index("ix_enrollments_course_id", "course_id"),
)

assessments = sa.Table(
    "assessments",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("course_id", BigId, nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("period", sa.String(50), nullable=False, server_default=""),
    sa.Column("max_score", sa.Float(), nullable=True),
    sa.Column("weight", sa.Float(), nullable=True),
    sa.Column("due_date", sa.Date(), nullable=True),
    sa.UniqueConstraint("course_id", "title", "period", name="uq_assessments_course_title"),
)

# Keyed (student, assessment): the key serves the per-student reads of every report, so
# no second index has to be maintained on imports of a million results.
results = sa.Table(
    "results",
    metadata,
    sa.Column("student_id", BigId, primary_key=True),
    sa.Column("assessment_id", BigId, primary_key=True),
    sa.Column("score", sa.Float(), nullable=True),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

attendance = sa.Table(
    "attendance",
    metadata,
    sa.Column("student_id", BigId, primary_key=True),
    sa.Column("course_id", BigId, primary_key=True),
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

llm_usage = sa.Table(
    "llm_usage",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("student_id", BigId, nullable=True),
    sa.Column("model", sa.String(100), nullable=False),
    sa.Column("prompt_tokens", sa.Integer(), nullable=False),
    sa.Column("completion_tokens", sa.Integer(), nullable=False),
    sa.Column("cached_tokens", sa.Integer(), nullable=False),
    sa.Column("cost_usd", sa.Float(), nullable=False),
    sa.Column("latency_ms", sa.Integer(), nullable=False),
    sa.Column("outcome", sa.String(30), nullable=False),
    sa.Column("tools", sa.String(400), nullable=True),
    sa.Index("ix_llm_usage_student_id_at", "student_id", "at"),
    sa.Index("ix_llm_usage_at", "at"),
)

#: One row per worker process, refreshed every few seconds (``/readyz`` "worker alive").
worker_heartbeats = sa.Table(
    "worker_heartbeats",
    metadata,
    sa.Column("worker_id", sa.String(100), primary_key=True),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("beat_at", UTCDateTime(), nullable=False),
)

# -- sign-in sessions and the stored secret key (issue 21; migration 0009) ---------------------

#: One row per signed-in admin session; the cookie carries the random id, the row its sha256
#: (a copy of the table opens no session). Signing out deletes the row.
admin_sessions = sa.Table(
    "admin_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
    # The member signed in (NULL: the break-glass EKI_ADMIN_TOKEN) and the account's
    # session_epoch then; a session whose epoch no longer matches is void (0011).
    sa.Column("staff_id", BigId, nullable=True, index=True),
    sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0"),
)

#: Keys EKI generates once and keeps (``session``: signs cookies when EKI_SECRET_KEY is unset).
eki_secrets = sa.Table(
    "eki_secrets",
    metadata,
    sa.Column("name", sa.String(50), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

#: Staff accounts (``eki staff``). ``email`` is stored case-folded; ``tags`` is a JSON array
#: of the (normalised) tag names a teacher is responsible for.
staff_members = sa.Table(
    "staff_members",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("tags", sa.Text(), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=True),
    sa.Column("totp_secret", sa.String(64), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_sign_in_at", UTCDateTime(), nullable=True),
    sa.Column("session_epoch", sa.Integer(), nullable=False),
)

#: Personal API tokens: only the SHA-256 digest is stored.
staff_api_tokens = sa.Table(
    "staff_api_tokens",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("staff_id", BigId, sa.ForeignKey("staff_members.id"), nullable=False),
    sa.Column("label", sa.String(80), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=True),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    sa.Column("last_used_at", UTCDateTime(), nullable=True),
    sa.Index("ix_staff_api_tokens_staff_id", "staff_id"),
)

#: One-time links to choose a password (``/admin/setup/<token>``): digest only.
staff_setup_links = sa.Table(
    "staff_setup_links",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("staff_id", BigId, sa.ForeignKey("staff_members.id"), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime(), nullable=True),
    sa.Index("ix_staff_setup_links_staff_id", "staff_id"),
)

#: The append-only audit log. EKI has no UPDATE or DELETE statement on it (the retention
#: purge excepted). Indexes follow the admin filters and the sign-in lockout's counts.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("actor", sa.String(254), nullable=False),
    sa.Column("action", sa.String(60), nullable=False),
    sa.Column("target_type", sa.String(40), nullable=True),
    sa.Column("target_id", sa.String(254), nullable=True),
    sa.Column("ip", sa.String(64), nullable=True),
    sa.Column("user_agent", sa.String(300), nullable=True),
    sa.Column("details", sa.Text(), nullable=False),
    sa.Index("ix_audit_log_at", "at"),
    sa.Index("ix_audit_log_actor_at", "actor", "at"),
    sa.Index("ix_audit_log_action_target_id_at", "action", "target_id", "at"),
    sa.Index("ix_audit_log_action_ip_at", "action", "ip", "at"),
)

#: Guardians (``eki guardians``): parents and acudientes known by phone (unique among
#: guardians; a student's phone too is allowed). ``subject_*`` and ``question*`` are the
#: conversation's memory: the student chosen and the last data question.
guardians = sa.Table(
    "guardians",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("phone", sa.String(16), nullable=False, unique=True),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("subject_student_id", BigId, nullable=True),
    sa.Column("subject_chosen_at", UTCDateTime(), nullable=True),
    sa.Column("question", sa.String(1000), nullable=True),
    sa.Column("question_at", UTCDateTime(), nullable=True),
)

#: Guardian ↔ student with what the guardian may see and receive.
guardian_links = sa.Table(
    "guardian_links",
    metadata,
    sa.Column("guardian_id", BigId, sa.ForeignKey("guardians.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("student_id", BigId, sa.ForeignKey("students.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("relationship", sa.String(20), nullable=False),
    sa.Column("may_see_grades", sa.Boolean(), nullable=False),
    sa.Column("may_receive_alerts", sa.Boolean(), nullable=False),
    sa.Column("priority", sa.Integer(), nullable=False),
    sa.Index("ix_guardian_links_student_id", "student_id"),
)

#: Verification codes (``eki codes issue``): only the SHA-256 digest is stored.
verification_codes = sa.Table(
    "verification_codes",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("student_id", BigId, sa.ForeignKey("students.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("purpose", sa.String(20), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime(), nullable=True),
    sa.Column("used_by", sa.String(16), nullable=True),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    sa.Column("approved_at", UTCDateTime(), nullable=True),
    sa.Index("ix_verification_codes_student_id", "student_id"),
)

# The communication loop's tables (consent, privacy, the staff inbox, alerts) live in
# tables_outreach.py (this module stayed under 600 lines); re-exported so that
# ``tables.<name>`` names every table.
from eki_adapters.sql.tables_outreach import alert_opt_outs as alert_opt_outs  # noqa: E402
from eki_adapters.sql.tables_outreach import alert_rules as alert_rules  # noqa: E402
from eki_adapters.sql.tables_outreach import alerts as alerts  # noqa: E402
from eki_adapters.sql.tables_outreach import consent_questions as consent_questions  # noqa: E402
from eki_adapters.sql.tables_outreach import consent_records as consent_records  # noqa: E402
from eki_adapters.sql.tables_outreach import daily_counts as daily_counts  # noqa: E402
from eki_adapters.sql.tables_outreach import inbox_notes as inbox_notes  # noqa: E402
from eki_adapters.sql.tables_outreach import inbox_seen as inbox_seen  # noqa: E402
from eki_adapters.sql.tables_outreach import privacy_requests as privacy_requests  # noqa: E402
from eki_adapters.sql.tables_outreach import quick_replies as quick_replies  # noqa: E402
