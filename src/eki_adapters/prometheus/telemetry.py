"""``PrometheusTelemetry``: the :class:`~eki_domain.ports.telemetry.Telemetry` port on
prometheus-client.

Each instance owns its registry (several apps in one process never clash). Counters and
histograms live in this process. With ``PROMETHEUS_MULTIPROC_DIR`` in the environment
before the process starts (settings pass it here too), prometheus-client writes them to
files in that directory and :meth:`render` adds up every process's files, so one scrape of
any process sees all the processes of the host.

Queue depths and worker liveness are not kept here: they are read from the database at
scrape time (:meth:`render` takes a snapshot), so they are right across processes too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

if TYPE_CHECKING:
    from eki_domain.services.operations import OperationsSnapshot

log = logging.getLogger("eki.metrics")

#: The 0.0.4 text format generate_latest() writes.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Seconds: from a student's message to the reply queued (the turn, model included).
REPLY_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 60.0, 120.0, 300.0)
#: Seconds: from the reply queued to WhatsApp accepting it.
DELIVERY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


class PrometheusTelemetry:
    """Counters and histograms named ``eki_*`` (see docs/operations.md)."""

    def __init__(self, *, multiprocess_dir: str | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        if multiprocess_dir and values.ValueClass is values.MutexValue:
            log.warning("PROMETHEUS_MULTIPROC_DIR was not set when the process started: "
                        "this process's metrics stay in memory and are not shared")
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.webhook_requests = Counter(
            "eki_webhook_requests", "Webhook POSTs by outcome.", ["outcome"], registry=reg)
        self.inbound = Counter(
            "eki_inbound_messages", "Inbound messages processed, by WhatsApp type.", ["type"],
            registry=reg)
        self.outbound = Counter(
            "eki_outbound_messages",
            "Send attempts by result (sent, retry, failed) and channel error code.",
            ["status", "error_code"], registry=reg)
        self.reply_latency = Histogram(
            "eki_reply_latency_seconds",
            "From the student's message (WhatsApp timestamp) to the reply queued.",
            buckets=REPLY_BUCKETS, registry=reg)
        self.delivery_latency = Histogram(
            "eki_delivery_latency_seconds", "From the reply queued to the channel accepting it.",
            buckets=DELIVERY_BUCKETS, registry=reg)
        self.model_calls = Counter(
            "eki_model_calls", "Language-model calls by model and outcome (ok or error kind).",
            ["model", "outcome"], registry=reg)
        self.model_tokens = Counter(
            "eki_model_tokens", "Tokens by model and kind (prompt, completion, cached).",
            ["model", "kind"], registry=reg)
        self.model_cost = Counter(
            "eki_model_cost_usd", "Model spend in US dollars, by model.", ["model"],
            registry=reg)
        self.answers = Counter(
            "eki_assistant_answers",
            "LLM-assistant turns by who answered (llm, fallback, budget, rules).", ["source"],
            registry=reg)
        self.tools = Counter(
            "eki_tool_calls", "Student tools run by the model, by tool.", ["tool"], registry=reg)
        self.tool_rejections = Counter(
            "eki_tool_rejections", "Tool calls of the model not run or failed, by reason.",
            ["reason"], registry=reg)
        self.assistant_events = Counter(
            "eki_assistant_events",
            "LLM-assistant events by reason (empty_answer, ungrounded, internal, final_call, "
            "ledger_error, unpriced_call).", ["reason"], registry=reg)
        self.import_rows_total = Counter(
            "eki_import_rows", "Rows of real imports by kind and outcome.", ["kind", "outcome"],
            registry=reg)
        self.opt_outs = Counter("eki_opt_outs", "Senders who opted out.", registry=reg)
        self.handoffs = Counter("eki_handoffs", "Conversations handed to a person.",
                                registry=reg)
        self.flooded_senders = Counter(
            "eki_rate_limited_senders",
            "Senders who went over the inbound flood limit (once per window).", registry=reg)
        self.limited_requests = Counter(
            "eki_http_rate_limited_requests", "HTTP requests refused by a per-IP rate limit.",
            ["rule"], registry=reg)
        if not self.multiprocess_dir:
            ProcessCollector(registry=reg)
            PlatformCollector(registry=reg)

    # -- the Telemetry port ----------------------------------------------------------------

    def webhook_request(self, outcome: str) -> None:
        self.webhook_requests.labels(outcome).inc()

    def inbound_message(self, type: str) -> None:
        self.inbound.labels(type).inc()

    def reply_queued(self, seconds: float) -> None:
        self.reply_latency.observe(seconds)

    def outbound_result(self, status: str, error_code: str | None, seconds: float | None
                        ) -> None:
        self.outbound.labels(status, error_code or "").inc()
        if seconds is not None:
            self.delivery_latency.observe(max(0.0, seconds))

    def model_call(self, model: str, outcome: str, *, prompt_tokens: int,
                   completion_tokens: int, cached_tokens: int, cost_usd: float) -> None:
        self.model_calls.labels(model, outcome).inc()
        if prompt_tokens:
            self.model_tokens.labels(model, "prompt").inc(prompt_tokens)
        if completion_tokens:
            self.model_tokens.labels(model, "completion").inc(completion_tokens)
        if cached_tokens:
            self.model_tokens.labels(model, "cached").inc(cached_tokens)
        if cost_usd:
            self.model_cost.labels(model).inc(cost_usd)

    def assistant_answer(self, source: str) -> None:
        self.answers.labels(source).inc()

    def tool_use(self, tool: str) -> None:
        self.tools.labels(tool).inc()

    def tool_rejected(self, reason: str) -> None:
        self.tool_rejections.labels(reason).inc()

    def assistant_event(self, reason: str) -> None:
        self.assistant_events.labels(reason).inc()

    def import_rows(self, kind: str, outcome: str, count: int) -> None:
        self.import_rows_total.labels(kind, outcome).inc(count)

    def opt_out(self) -> None:
        self.opt_outs.inc()

    def handoff(self) -> None:
        self.handoffs.inc()

    def sender_rate_limited(self) -> None:
        self.flooded_senders.inc()

    def request_rate_limited(self, rule: str) -> None:
        self.limited_requests.labels(rule).inc()

    # -- exposition ------------------------------------------------------------------------

    def render(self, snapshot: OperationsSnapshot | None) -> bytes:
        """The text exposition: this process's metrics (or every process's, in
        multiprocess mode) plus the pipeline state read at scrape time. ``snapshot`` None
        means the database could not be read: ``eki_database_up`` is 0."""
        if self.multiprocess_dir:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
            body = generate_latest(registry)
        else:
            body = generate_latest(self.registry)
        scrape = CollectorRegistry()
        scrape.register(_SnapshotCollector(snapshot))
        return body + generate_latest(scrape)


class _SnapshotCollector:
    def __init__(self, snapshot: OperationsSnapshot | None) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot
        yield GaugeMetricFamily("eki_database_up", "1 when the database answered this scrape.",
                                value=0 if snap is None else 1)
        if snap is None:
            return
        for queue, state in (("inbox", snap.inbox), ("outbox", snap.outbox)):
            yield GaugeMetricFamily(f"eki_{queue}_pending_messages",
                                    f"Messages pending in the {queue}.", value=state.pending)
            yield GaugeMetricFamily(f"eki_{queue}_oldest_pending_age_seconds",
                                    f"Age of the oldest pending {queue} message (0: none).",
                                    value=state.oldest_seconds)
        yield GaugeMetricFamily("eki_workers_alive", "Worker processes that beat recently.",
                                value=snap.workers_alive)
        if snap.students_active is not None and snap.students_inactive is not None:
            students = GaugeMetricFamily("eki_students", "Registered students by state.",
                                         labels=["state"])
            students.add_metric(["active"], snap.students_active)
            students.add_metric(["inactive"], snap.students_inactive)
            yield students
        if snap.last_beat_seconds is not None:
            yield GaugeMetricFamily("eki_worker_last_heartbeat_age_seconds",
                                    "Seconds since any worker last beat.",
                                    value=snap.last_beat_seconds)
