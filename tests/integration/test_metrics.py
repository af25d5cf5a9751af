"""``GET /metrics``: who may read it, and the values after a scripted conversation driven
through the real pipeline (signed webhooks → inbox → turns with the openai SDK over
httpx2.MockTransport → outbox → channel), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from eki_adapters.openai import OpenAIChatModel
from eki_adapters.prometheus import PrometheusTelemetry
from eki_adapters.system import FixedClock
from eki_adapters.whatsapp import ConsoleChannel
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.settings import Secret, Settings
from eki_entrypoints.web import create_app
from eki_entrypoints.worker import PipelineWorker
from eki_testing import meta
from eki_testing.openai import ScriptedOpenAI, completion, error

SECRET = "app-secret"
ANA = "573001234567"
BETO = "573109876543"
STRANGER = "573150000000"
ADMIN = "admin-token"
METRICS = "metrics-token"
START = datetime(2026, 3, 2, 15, tzinfo=UTC)


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample (0 when the labelled series does not exist yet)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


def scrape(client: TestClient, token: str = METRICS) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return response.text


# -- who may read /metrics --------------------------------------------------------------------


@pytest.fixture
def app_with(database_url: str):  # type: ignore[no-untyped-def]
    def make(**tokens: str) -> TestClient:
        settings = Settings(database_url=database_url,
                            **{k: Secret(v) for k, v in tokens.items()})  # type: ignore[arg-type]
        return TestClient(create_app(settings))

    return make


def test_metrics_refuse_when_no_token_is_configured(app_with) -> None:  # type: ignore[no-untyped-def]
    with app_with() as client:
        response = client.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "METRICS_DISABLED"
    assert "EKI_METRICS_TOKEN" in response.json()["error"]["message"]


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong"}, {"Authorization": METRICS},
    {"Authorization": f"Basic {METRICS}"}, {"Authorization": "Bearer "},
])
def test_metrics_refuse_missing_or_wrong_tokens(app_with, headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    with app_with(metrics_token=METRICS, admin_token=ADMIN) as client:
        response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "eki_" not in response.text


def test_metrics_take_only_the_metrics_token(app_with) -> None:  # type: ignore[no-untyped-def]
    """Issue 21: /metrics takes EKI_METRICS_TOKEN only — the admin token opens nothing
    there, and the metrics token opens nothing else."""
    with app_with(metrics_token=METRICS, admin_token=ADMIN) as client:
        assert "eki_database_up 1.0" in scrape(client, METRICS)
        assert client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN}"}
                          ).status_code == 401
    with app_with(admin_token=ADMIN) as client:  # no metrics token: /metrics is disabled
        refused = client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN}"})
        assert refused.status_code == 403 and "eki_" not in refused.text
    with app_with(metrics_token=METRICS) as client:  # metrics token alone: not the admin API
        assert "eki_outbox_pending_messages" in scrape(client, METRICS)
        assert client.get("/api/imports", headers={"Authorization": f"Bearer {METRICS}"}
                          ).status_code == 403


def test_metrics_answer_when_the_database_is_down() -> None:
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/nothing",
                        metrics_token=Secret(METRICS))
    with TestClient(create_app(settings, eki=_run(bootstrap(settings)))) as client:
        text = scrape(client)
    assert sample(text, "eki_database_up") == 0
    assert "eki_inbox_pending_messages" not in text


def _run(coroutine):  # type: ignore[no-untyped-def]
    import asyncio

    return asyncio.run(coroutine)


# -- values after a scripted conversation -------------------------------------------------------


@pytest.fixture
def server() -> ScriptedOpenAI:
    return ScriptedOpenAI()


@pytest.fixture
async def eki(database_url: str, server: ScriptedOpenAI) -> AsyncIterator[Eki]:
    model = OpenAIChatModel(api_key="sk-test", http_client=server.client(), backoff_initial=0,
                            backoff_max=0)
    settings = Settings(database_url=database_url, whatsapp_app_secret=Secret(SECRET),
                        admin_token=Secret(ADMIN), metrics_token=Secret(METRICS),
                        flood_limit=5)
    app = await bootstrap(settings, language_model=model, channel=ConsoleChannel(name="meta"),
                          clock=FixedClock(START))
    await app.registration.register("Ana María Pérez", ANA)
    await app.registration.register("Beto Ruiz", BETO)
    yield app
    await app.aclose()
    await model.aclose()


@pytest.fixture
def client(eki: Eki) -> Iterator[TestClient]:
    with TestClient(create_app(eki.settings, eki=eki)) as test_client:
        yield test_client


def post(client: TestClient, payload: dict, secret: str = SECRET) -> int:  # type: ignore[type-arg]
    body = meta.encode(payload)
    return client.post("/webhooks/whatsapp", content=body, headers={
        "Content-Type": "application/json",
        "X-Hub-Signature-256": meta.sign(body, secret)}).status_code


def drain(client: TestClient, eki: Eki) -> None:
    client.portal.call(PipelineWorker(eki).drain)  # type: ignore[union-attr]


def ts(seconds_ago: int) -> int:
    return int((START - timedelta(seconds=seconds_ago)).timestamp())


def test_metrics_after_a_scripted_conversation(client: TestClient, eki: Eki,
                                               server: ScriptedOpenAI) -> None:
    assert isinstance(eki.telemetry, PrometheusTelemetry)
    server.then(
        completion(tool_calls=[("call_1", "get_my_progress", "{}")], usage=(900, 20, 100)),
        completion("¡Vas muy bien, Ana!", usage=(1000, 30, 0)),
        error(500, "boom"),  # every later call fails: the rules answer
    )
    # Refused deliveries are counted by outcome.
    assert post(client, meta.text_message(ANA, "hola"), secret="forged") == 403
    assert client.post("/webhooks/whatsapp", content=b"{}").status_code == 401

    # 1. A question the model answers with a tool (3 s after Ana wrote).
    assert post(client, meta.text_message(ANA, "¿cómo voy en mate?", timestamp=ts(3))) == 200
    pending = scrape(client)
    assert sample(pending, "eki_inbox_pending_messages") == 1
    assert sample(pending, "eki_inbox_oldest_pending_age_seconds") >= 0
    drain(client, eki)
    # 2. The model fails: the rule-based responder answers.
    post(client, meta.text_message(ANA, "¿y en sociales?", timestamp=ts(1)))
    drain(client, eki)
    # 3. A menu command: the rules answer directly, no model call.
    post(client, meta.text_message(ANA, "menú", timestamp=ts(1)))
    drain(client, eki)
    # 4. An image with no caption, an unknown sender, an opt-out, a hand-off.
    post(client, meta.media_message("image", ANA, timestamp=ts(1)))
    post(client, meta.text_message(STRANGER, "hola", timestamp=ts(1)))
    post(client, meta.text_message(BETO, "BAJA", timestamp=ts(1)))
    drain(client, eki)
    post(client, meta.text_message(ANA, "quiero hablar con un asesor", timestamp=ts(1)))
    drain(client, eki)
    # 5. A flood: Beto opted in again and sends more than 5 messages in the minute.
    post(client, meta.text_message(BETO, "ALTA", timestamp=ts(1)))
    drain(client, eki)
    for n in range(5):
        post(client, meta.text_message(BETO, f"hola {n}", timestamp=ts(1)))
        drain(client, eki)

    text = scrape(client)
    webhook = "eki_webhook_requests_total"
    assert sample(text, webhook, outcome="accepted") == 13
    assert sample(text, webhook, outcome="signature_invalid") == 1
    assert sample(text, webhook, outcome="signature_missing") == 1
    assert sample(text, "eki_inbound_messages_total", type="text") == 12
    assert sample(text, "eki_inbound_messages_total", type="image") == 1

    replies = len(eki.channel.sent)  # type: ignore[attr-defined]
    # Ana 5 answers; stranger 1; Beto: opt-out and opt-in confirmations, 3 answers, the
    # flood notice (his 6th message in the minute) and silence for the 7th.
    assert replies == 12
    assert sum("muchos mensajes" in body for _, body, _ in eki.channel.sent) == 1  # type: ignore[attr-defined]
    assert sample(text, "eki_outbound_messages_total", status="sent", error_code="") == replies
    assert sample(text, "eki_reply_latency_seconds_count") == replies
    assert sample(text, "eki_reply_latency_seconds_bucket", le="2.0") == replies - 1
    assert sample(text, "eki_reply_latency_seconds_bucket", le="3.0") == replies
    assert sample(text, "eki_delivery_latency_seconds_count") == replies

    assert sample(text, "eki_model_calls_total", model="gpt-4o-mini-2024-07-18",
                  outcome="ok") == 2
    assert sample(text, "eki_model_calls_total", model="gpt-4o-mini", outcome="server") >= 1
    assert sample(text, "eki_model_tokens_total", model="gpt-4o-mini-2024-07-18",
                  kind="prompt") == 1900
    assert sample(text, "eki_model_tokens_total", model="gpt-4o-mini-2024-07-18",
                  kind="completion") == 50
    assert sample(text, "eki_model_tokens_total", model="gpt-4o-mini-2024-07-18",
                  kind="cached") == 100
    assert sample(text, "eki_model_cost_usd_total", model="gpt-4o-mini-2024-07-18") > 0
    assert sample(text, "eki_assistant_answers_total", source="llm") == 1
    assert sample(text, "eki_assistant_answers_total", source="fallback") >= 1
    assert sample(text, "eki_assistant_answers_total", source="rules") == 1
    assert sample(text, "eki_tool_calls_total", tool="get_my_progress") == 1
    assert sample(text, "eki_opt_outs_total") == 1
    assert sample(text, "eki_handoffs_total") == 1
    assert sample(text, "eki_rate_limited_senders_total") == 1
    assert sample(text, "eki_inbox_pending_messages") == 0
    assert sample(text, "eki_outbox_pending_messages") == 0
    assert sample(text, "eki_database_up") == 1
    assert sample(text, "eki_students", state="active") == 2
    assert sample(text, "eki_students", state="inactive") == 0


def test_import_rows_are_counted_by_outcome(client: TestClient) -> None:
    auth = {"Authorization": f"Bearer {ADMIN}"}
    body = [{"nombre": "Carla", "telefono": "3001112233"},
            {"nombre": "Ana María Pérez", "telefono": ANA},
            {"nombre": "", "telefono": "3109998877"}]
    assert client.post("/api/students/import?dry_run=1", json=body, headers=auth
                       ).status_code == 200
    assert sample(scrape(client), "eki_import_rows_total", kind="students",
                  outcome="created") == 0  # a dry run imports nothing
    assert client.post("/api/students/import", json=body, headers=auth).status_code == 200
    text = scrape(client)
    assert sample(text, "eki_import_rows_total", kind="students", outcome="created") == 1
    assert sample(text, "eki_import_rows_total", kind="students", outcome="unchanged") == 1
    assert sample(text, "eki_import_rows_total", kind="students", outcome="rejected") == 1


# -- several processes -------------------------------------------------------------------------


_COUNT = textwrap.dedent("""
    import sys
    from eki_adapters.prometheus import PrometheusTelemetry
    t = PrometheusTelemetry(multiprocess_dir=sys.argv[1])
    for _ in range(int(sys.argv[2])):
        t.inbound_message("text")
    t.reply_queued(1.5)
""")
_RENDER = textwrap.dedent("""
    import sys
    from eki_adapters.prometheus import PrometheusTelemetry
    sys.stdout.write(PrometheusTelemetry(multiprocess_dir=sys.argv[1]).render(None).decode())
""")


def test_multiprocess_mode_adds_up_every_process(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for count in ("2", "3"):
        subprocess.run([sys.executable, "-c", _COUNT, str(tmp_path), count], env=env,
                       check=True, timeout=60)
    done = subprocess.run([sys.executable, "-c", _RENDER, str(tmp_path)], env=env, check=True,
                          capture_output=True, text=True, timeout=60)
    assert sample(done.stdout, "eki_inbound_messages_total", type="text") == 5
    assert sample(done.stdout, "eki_reply_latency_seconds_count") == 2
    assert sample(done.stdout, "eki_database_up") == 0


def test_a_command_line_import_counts_its_rows_in_multiprocess_mode(tmp_path: Path) -> None:
    """`eki students import` serves no /metrics: its row counts are seen by the server's
    scrape only through PROMETHEUS_MULTIPROC_DIR, where it writes them (without that
    directory it keeps none: cli/importing.py)."""
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    sample_file = Path(__file__).resolve().parents[2] / "docs" / "examples" / "estudiantes.csv"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics), "EKI_LOG_LEVEL": "WARNING",
           "EKI_DATABASE_URL": f"sqlite:///{tmp_path / 'eki.db'}"}
    eki = [sys.executable, "-c", "from eki_entrypoints.cli import main; main()"]
    for _ in range(2):
        subprocess.run([*eki, "students", "import", str(sample_file)], env=env, check=True,
                       capture_output=True, timeout=120)
    done = subprocess.run([sys.executable, "-c", _RENDER, str(metrics)], env=env, check=True,
                          capture_output=True, text=True, timeout=60)
    created = sample(done.stdout, "eki_import_rows_total", kind="students", outcome="created")
    unchanged = sample(done.stdout, "eki_import_rows_total", kind="students",
                       outcome="unchanged")
    assert created == unchanged >= 3
