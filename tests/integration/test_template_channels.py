"""Templates over real HTTP on 127.0.0.1: Meta's ``type: template`` body and Twilio's
``ContentSid`` + ``ContentVariables`` (same retries and permanent errors as text), the two
providers' template listings read page by page, and a queued template sent by the
dispatcher through the fake Graph API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from eki_adapters.twilio import TwilioChannel
from eki_adapters.twilio.content import TwilioContentCatalog
from eki_adapters.whatsapp import MetaCloudChannel
from eki_adapters.whatsapp.meta_templates import MetaTemplateCatalog
from eki_domain.errors import DeliveryError
from eki_domain.model.permissions import Principal
from eki_domain.model.templates import TemplateCategory, TemplateStatus, TemplateSyncError
from eki_domain.services.staff import Caller
from eki_domain.services.staff_messages import TemplateChoice
from eki_domain.services.templates import TemplateService
from eki_entrypoints.bootstrap import bootstrap
from eki_entrypoints.settings import Settings
from eki_testing.graph import FakeGraphAPI, Reply, graph_template, meta_error, permanent
from eki_testing.http import ScriptedHTTPServer
from eki_testing.twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM,
    FakeTwilioServer,
    content_item,
    twilio_error,
)
from tests.integration.processes import free_port

TOKEN = "EAAG-test-token"
PHONE_ID = "106540352242922"
WABA = "102290129340398"
TO = "573001234567"
SID = "HX" + "0123456789abcdef" * 2
CLI = Caller(Principal.cli("secretaria"))


@pytest.fixture
async def meta(graph: FakeGraphAPI) -> AsyncIterator[MetaCloudChannel]:
    async with MetaCloudChannel(graph.url, PHONE_ID, TOKEN, timeout=2.0, max_attempts=4,
                                backoff_initial=0.01, backoff_max=0.05) as ch:
        yield ch


@pytest.fixture
async def twilio_channel(twilio: FakeTwilioServer) -> AsyncIterator[TwilioChannel]:
    async with TwilioChannel(ACCOUNT_SID, AUTH_TOKEN, FROM, api_url=twilio.url,
                             status_callback="https://eki.example/webhooks/twilio/status",
                             timeout=2.0, max_attempts=4, backoff_initial=0.01,
                             backoff_max=0.05) as ch:
        yield ch


# -- Meta --------------------------------------------------------------------------------


async def test_meta_template_body_with_parameters_after_a_retry(
        graph: FakeGraphAPI, meta: MetaCloudChannel) -> None:
    graph.then(Reply(500, b"<html>oops</html>"),
               Reply(429, meta_error(130429, "Rate limit hit")))
    receipt = await meta.send_template(TO, "recordatorio", "es", ["Ana", "matemáticas"],
                                       idempotency_key="eki-out-7")
    assert receipt.provider_id.startswith("wamid.OK")
    assert len(graph.requests) == 3
    assert graph.requests[-1].json == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": TO,
        "type": "template",
        "template": {"name": "recordatorio", "language": {"code": "es"}, "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "Ana"},
                                            {"type": "text", "text": "matemáticas"}]}]},
        "biz_opaque_callback_data": "eki-out-7",
    }
    assert graph.templates_to(TO) == [("recordatorio", "es", ["Ana", "matemáticas"])]


async def test_meta_template_without_parameters_has_no_components(
        graph: FakeGraphAPI, meta: MetaCloudChannel) -> None:
    await meta.send_template(TO, "hello_world", "en_US", [])
    assert graph.requests[0].json["template"] == {"name": "hello_world",
                                                  "language": {"code": "en_US"}}


@pytest.mark.parametrize("code", [132000, 132001])
async def test_meta_template_errors_are_permanent(graph: FakeGraphAPI, meta: MetaCloudChannel,
                                                  code: int) -> None:
    graph.then(permanent(code, "Template name does not exist in the translation"))
    with pytest.raises(DeliveryError) as failed:
        await meta.send_template(TO, "recordatorio", "es", ["Ana"])
    assert failed.value.permanent and failed.value.code == str(code)
    assert "plantilla" in failed.value.message
    assert len(graph.requests) == 1


async def test_meta_catalog_reads_every_page(graph: FakeGraphAPI) -> None:
    graph.templates = [graph_template(f"plantilla_{n}", "Hola {{1}}", template_id=str(n))
                       for n in range(5)]
    graph.templates.append(graph_template("rechazada", "x", status="REJECTED",
                                          category="MARKETING"))
    graph.templates.append({"name": "Sin Cuerpo", "language": "es", "status": "APPROVED"})
    catalog = MetaTemplateCatalog(graph.url, WABA, TOKEN, page_size=2)
    templates = await catalog.fetch()
    assert [t.name for t in templates] == [f"plantilla_{n}" for n in range(5)] + ["rechazada"]
    assert templates[0].status is TemplateStatus.APPROVED
    assert templates[0].category is TemplateCategory.UTILITY
    assert templates[-1].status is TemplateStatus.REJECTED
    gets = [r for r in graph.requests if r.method == "GET"]
    assert len(gets) == 4  # 7 listed, 2 a page
    assert all(r.path.startswith(f"/v25.0/{WABA}/message_templates?") for r in gets)
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in gets)


async def test_meta_catalog_never_follows_a_next_page_to_another_host() -> None:
    page = {"data": [graph_template("uno", "Hola")],
            "paging": {"next": "https://evil.example/v25.0/steal"}}
    with ScriptedHTTPServer(Reply(200, page)) as server:
        catalog = MetaTemplateCatalog(server.origin + "/v25.0", WABA, TOKEN)
        with pytest.raises(TemplateSyncError, match="otro servidor"):
            await catalog.fetch()
        assert len(server.requests) == 1  # the token never left for evil.example


async def test_meta_catalog_unreachable_is_a_clear_sync_error() -> None:
    catalog = MetaTemplateCatalog(f"http://127.0.0.1:{free_port()}/v25.0", WABA, TOKEN,
                                  timeout=2.0)
    with pytest.raises(TemplateSyncError, match="comunicarse con WhatsApp"):
        await catalog.fetch()


async def test_meta_catalog_error_is_a_clear_sync_error(graph: FakeGraphAPI) -> None:
    catalog = MetaTemplateCatalog(graph.url.replace("/v25.0", "/v1"), WABA, TOKEN)
    with pytest.raises(TemplateSyncError, match="HTTP 404"):
        await catalog.fetch()


# -- Twilio ------------------------------------------------------------------------------


async def test_twilio_template_posts_content_sid_and_variables(
        twilio: FakeTwilioServer, twilio_channel: TwilioChannel) -> None:
    twilio.then(Reply(503, twilio_error(20500, "Service unavailable", status=503)))
    receipt = await twilio_channel.send_template(TO, "recordatorio", "es",
                                                 ["Ana", "matemáticas"], content_sid=SID)
    assert receipt.provider_id.startswith("SM")
    [sent] = twilio.template_sends()
    assert sent.form["ContentSid"] == SID
    assert json.loads(sent.form["ContentVariables"]) == {"1": "Ana", "2": "matemáticas"}
    assert sent.form["To"] == f"whatsapp:+{TO}" and "Body" not in sent.form
    assert sent.status_callback == "https://eki.example/webhooks/twilio/status"


async def test_twilio_template_needs_its_content_sid(twilio: FakeTwilioServer,
                                                     twilio_channel: TwilioChannel) -> None:
    with pytest.raises(DeliveryError) as failed:
        await twilio_channel.send_template(TO, "recordatorio", "es", ["Ana"])
    assert failed.value.permanent and failed.value.code == "TEMPLATE_NO_SID"
    assert twilio.requests == []


async def test_twilio_permanent_error_on_a_template(twilio: FakeTwilioServer,
                                                    twilio_channel: TwilioChannel) -> None:
    twilio.then(Reply(400, twilio_error(63016, "Outside the window")))
    with pytest.raises(DeliveryError) as failed:
        await twilio_channel.send_template(TO, "recordatorio", "es", ["Ana"], content_sid=SID)
    assert failed.value.permanent and failed.value.code == "63016"
    assert len(twilio.requests) == 1


async def test_twilio_catalog_reads_every_page_with_approvals(
        twilio: FakeTwilioServer) -> None:
    twilio.contents = [content_item("HX" + f"{n:032x}", f"aviso_{n}", "Hola {{1}}")
                       for n in range(3)]
    twilio.contents.append(content_item("HX" + "f" * 32, "pendiente", "x",
                                        status="received"))
    twilio.content_page_size = 3
    catalog = TwilioContentCatalog(ACCOUNT_SID, AUTH_TOKEN, api_url=twilio.content_url,
                                   page_size=3)
    templates = await catalog.fetch()
    assert [(t.name, t.status, t.content_sid) for t in templates] == [
        *((f"aviso_{n}", TemplateStatus.APPROVED, "HX" + f"{n:032x}") for n in range(3)),
        ("pendiente", TemplateStatus.PENDING, "HX" + "f" * 32)]
    assert len([r for r in twilio.requests if r.method == "GET"]) == 2


async def test_twilio_catalog_with_wrong_credentials(twilio: FakeTwilioServer) -> None:
    catalog = TwilioContentCatalog(ACCOUNT_SID, "wrong", api_url=twilio.content_url)
    with pytest.raises(TemplateSyncError, match="HTTP 401"):
        await catalog.fetch()


# -- end to end: sync, queue, dispatch -----------------------------------------------------


async def test_sync_then_a_queued_template_reaches_the_graph_api(
        database_url: str, graph: FakeGraphAPI) -> None:
    graph.templates = [graph_template("recordatorio", "Hola {{1}}, revisa {{2}}."),
                       graph_template("en_revision", "Hola", status="PENDING")]
    settings = Settings(database_url=database_url, whatsapp_api_url=graph.url,
                        whatsapp_business_account_id=WABA,
                        whatsapp_phone_number_id=PHONE_ID)
    channel = MetaCloudChannel(graph.url, PHONE_ID, TOKEN, backoff_initial=0.01)
    eki = await bootstrap(settings, channel=channel, auto_upgrade=True)
    try:
        templates = TemplateService(eki.uow, eki.clock,  # type: ignore[arg-type]
                                    MetaTemplateCatalog(graph.url, WABA, TOKEN))
        report = await templates.sync(CLI)
        assert (report.added, report.updated, report.gone, report.approved) == (2, 0, 0, 1)
        graph.templates = graph.templates[:1]  # en_revision was deleted at Meta
        report = await templates.sync(CLI)
        assert (report.added, report.updated, report.gone) == (0, 1, 1)
        statuses = {t.name: t.status for t in await templates.list()}
        assert statuses == {"recordatorio": TemplateStatus.APPROVED,
                            "en_revision": TemplateStatus.DISABLED}

        student = await eki.registration.register("Ana María Pérez", TO)
        await eki.staff_messages.send(CLI, student, template=TemplateChoice(
            "recordatorio", "es", ("Ana", "tus notas")))
        graph.then(Reply(500, b"oops"))  # one transient failure: the channel retries
        [outcome] = await eki.delivery.dispatch_due()
        assert outcome.status == "sent"
        assert graph.templates_to(TO) == [("recordatorio", "es", ["Ana", "tus notas"])]
    finally:
        await eki.aclose()
