"""The shipped Twilio test doubles: signed webhook builders and the fake Messages API."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import httpx2
import pytest

from eki_adapters.twilio import parse_twilio_webhook, verify_twilio_signature
from eki_domain.model.messages import DeliveryStatus, MessageType
from eki_testing import twilio as tw
from eki_testing.twilio import FakeTwilioServer

ANA = "573001234567"


@pytest.fixture
def http(twilio: FakeTwilioServer) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=twilio.url.rsplit("/", 1)[0], timeout=5,
                       auth=(tw.ACCOUNT_SID, tw.AUTH_TOKEN)) as client:
        yield client


def send(http: httpx2.Client, twilio: FakeTwilioServer, body: str = "hola",
         **extra: str) -> httpx2.Response:
    return http.post(twilio.messages_path, data={"From": tw.FROM, "To": f"whatsapp:+{ANA}",
                                                 "Body": body, **extra})


# -- webhook builders -----------------------------------------------------------------------


@pytest.mark.parametrize(("form", "kind"), [
    (tw.text_message(ANA, "hola", name="Ana"), MessageType.TEXT),
    (tw.media_message(ANA, "audio/ogg"), MessageType.AUDIO),
    (tw.media_message(ANA, "application/pdf", caption="tarea"), MessageType.DOCUMENT),
    (tw.button_reply(ANA, "Sí", "YES"), MessageType.BUTTON),
    (tw.location_message(ANA, 4.7, -74.1), MessageType.LOCATION),
])
def test_builders_are_signed_and_parse(form: dict[str, str], kind: MessageType) -> None:
    url = "https://eki.example/webhooks/twilio"
    request = tw.signed_post(form, url=url)
    assert request.path == "/webhooks/twilio"
    assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert verify_twilio_signature(url, form, request.headers["X-Twilio-Signature"],
                                   tw.AUTH_TOKEN)
    assert not verify_twilio_signature(url, form, request.headers["X-Twilio-Signature"],
                                       "another-token")
    assert httpx2.QueryParams(request.body.decode()).multi_items() == list(form.items())
    (message,) = parse_twilio_webhook(form).messages
    assert (message.type, message.wa_id) == (kind, ANA)


def test_message_sids_are_unique_and_twilio_sized() -> None:
    sids = {tw.text_message(ANA, "x")["MessageSid"] for _ in range(50)}
    assert len(sids) == 50
    assert all(len(sid) == 34 and sid.startswith("SM") for sid in sids)
    assert tw.media_message(ANA)["MessageSid"].startswith("MM")


def test_signed_for_a_public_url_behind_a_proxy() -> None:
    form = tw.text_message(ANA, "hola")
    request = tw.signed_post(form, url="http://testserver/webhooks/twilio?x=1",
                             signed_url="https://eki.example/webhooks/twilio?x=1")
    assert request.path == "/webhooks/twilio?x=1"
    signature = request.headers["X-Twilio-Signature"]
    assert verify_twilio_signature("https://eki.example/webhooks/twilio?x=1", form, signature,
                                   tw.AUTH_TOKEN)
    assert not verify_twilio_signature(request.url, form, signature, tw.AUTH_TOKEN)


def test_status_callbacks_parse() -> None:
    form = tw.status_callback("SMx", "undelivered", to=ANA, error_code=63016)
    (report,) = parse_twilio_webhook(form).statuses
    assert (report.status, report.error_code, report.recipient) == (
        DeliveryStatus.FAILED, "63016", ANA)
    assert tw.status_callback("SMx", "read", to=ANA)["EventType"] == "READ"


# -- the fake Messages API --------------------------------------------------------------------


def test_accepts_and_records_a_send(twilio: FakeTwilioServer, http: httpx2.Client) -> None:
    response = send(http, twilio, "hola Ana", StatusCallback="https://x/status")
    assert response.status_code == 201
    data = response.json()
    (sent,) = twilio.messages
    assert data["sid"] == sent.sid and data["status"] == "queued"
    assert (sent.to, sent.body, sent.status_callback, sent.wa_id) == (
        f"whatsapp:+{ANA}", "hola Ana", "https://x/status", ANA)
    assert twilio.sent_to(ANA) == [sent] and twilio.sent_to("+" + ANA) == [sent]
    callback = twilio.status_callback_for(sent, "delivered")
    assert (callback["MessageSid"], callback["MessageStatus"], callback["To"]) == (
        sent.sid, "delivered", sent.to)


def test_wrong_credentials_get_20003(twilio: FakeTwilioServer) -> None:
    with httpx2.Client(timeout=5) as client:
        url = twilio.url.rsplit("/", 1)[0] + twilio.messages_path
        wrong = client.post(url, data={"Body": "x"}, auth=(tw.ACCOUNT_SID, "nope"))
        none = client.post(url, data={"Body": "x"})
        garbage = client.post(url, data={"Body": "x"}, headers={"Authorization": "Basic ###"})
    for response in (wrong, none, garbage):
        assert (response.status_code, response.json()["code"]) == (401, 20003)
    assert twilio.messages == [] and len(twilio.requests) == 3


def test_unknown_paths_get_404(twilio: FakeTwilioServer, http: httpx2.Client) -> None:
    response = http.post("/2010-04-01/Accounts/ACother/Messages.json", data={"Body": "x"})
    assert (response.status_code, response.json()["code"]) == (404, 20404)


def test_missing_parameters_get_twilio_codes(twilio: FakeTwilioServer,
                                             http: httpx2.Client) -> None:
    response = http.post(twilio.messages_path, data={"From": tw.FROM, "Body": "x"})
    assert (response.status_code, response.json()["code"]) == (400, 21604)
    response = http.post(twilio.messages_path, data={"From": tw.FROM, "To": "whatsapp:+1"})
    assert (response.status_code, response.json()["code"]) == (400, 21602)
    assert twilio.messages == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_injected_server_errors(twilio: FakeTwilioServer, http: httpx2.Client,
                                status: int) -> None:
    twilio.then(tw.server_error(status))
    failed = send(http, twilio)
    assert (failed.status_code, failed.json()["code"]) == (status, 20500)
    assert send(http, twilio).status_code == 201  # the script is used up: accept again
    assert len(twilio.requests) == 2 and len(twilio.messages) == 1


def test_injected_rate_limit(twilio: FakeTwilioServer, http: httpx2.Client) -> None:
    twilio.then(tw.rate_limited(retry_after=3), tw.rate_limited())
    first, second = send(http, twilio), send(http, twilio)
    assert (first.status_code, first.json()["code"], first.headers["retry-after"]) == (
        429, 20429, "3")
    assert second.status_code == 429 and "retry-after" not in second.headers
    assert twilio.messages == []


@pytest.mark.parametrize("code", [63016, 63003, 63024])
def test_injected_permanent_errors(twilio: FakeTwilioServer, http: httpx2.Client,
                                   code: int) -> None:
    twilio.then(tw.error(code, "no"))
    response = send(http, twilio)
    assert (response.status_code, response.json()["code"], response.json()["message"]) == (
        400, code, "no")
    assert twilio.messages == []


def test_injected_raw_bodies(twilio: FakeTwilioServer, http: httpx2.Client) -> None:
    twilio.then(tw.Reply(502, b"<html>bad gateway</html>"), tw.Reply(201, b"{}"))
    assert send(http, twilio).text == "<html>bad gateway</html>"
    assert send(http, twilio).json() == {}
    assert twilio.messages == []  # a raw answer records no send


def test_given_sid(twilio: FakeTwilioServer, http: httpx2.Client) -> None:
    twilio.then(tw.accepted(sid="SMchosen"))
    assert send(http, twilio).json()["sid"] == "SMchosen"
    assert twilio.messages[0].sid == "SMchosen"


def test_injected_latency(twilio: FakeTwilioServer, http: httpx2.Client) -> None:
    twilio.then(tw.accepted(delay=0.3))
    started = time.monotonic()
    assert send(http, twilio).status_code == 201
    assert time.monotonic() - started >= 0.3
    twilio.latency = 0.2
    started = time.monotonic()
    send(http, twilio)
    assert time.monotonic() - started >= 0.2
    with pytest.raises(httpx2.ReadTimeout):
        http.post(twilio.messages_path, data={"Body": "x"}, timeout=0.05)


def test_reset_forgets_everything(twilio: FakeTwilioServer, http: httpx2.Client) -> None:
    twilio.then(tw.server_error())
    twilio.latency = 1.0
    twilio.reset()
    assert send(http, twilio).status_code == 201
    twilio.reset()
    assert (twilio.requests, twilio.messages, twilio.script, twilio.latency) == ([], [], [], 0.0)


def test_own_credentials_and_lifecycle() -> None:
    with FakeTwilioServer("AC" + "f" * 32, "other") as server:
        url = server.url.rsplit("/", 1)[0] + server.messages_path
        auth = base64.b64encode(("AC" + "f" * 32 + ":other").encode()).decode()
        response = httpx2.post(url, data={"From": tw.FROM, "To": "whatsapp:+1", "Body": "x"},
                               headers={"Authorization": f"Basic {auth}"}, timeout=5)
        assert response.status_code == 201
    with pytest.raises(httpx2.ConnectError):
        httpx2.post(url, data={}, timeout=1)


# -- the shared scripting vocabulary (FakeTwilioServer is a ScriptedHTTPServer) -------------


def test_guarded_answers_do_not_use_the_script(twilio: FakeTwilioServer,
                                               http: httpx2.Client) -> None:
    twilio.then(tw.server_error(502))
    refused = http.post(twilio.messages_path, data={"Body": "x"}, auth=(tw.ACCOUNT_SID, "no"))
    assert refused.status_code == 401 and twilio.pending == 1
    assert http.get(twilio.messages_path).status_code == 405
    assert send(http, twilio).status_code == 502  # the scripted step is still there
    assert send(http, twilio).status_code == 201
    assert twilio.texts_to(ANA) == ["hola"]
    assert twilio.texts_to(ANA, include_failed=True) == ["hola", "hola"]  # 401 is no send
    assert [r.status for r in twilio.sends()] == [502, 201]


def test_permanent_defaults_to_63016_with_twilio_text(twilio: FakeTwilioServer,
                                                      http: httpx2.Client) -> None:
    twilio.then(tw.permanent(), tw.permanent(21211))
    first, second = send(http, twilio).json(), send(http, twilio).json()
    assert first["code"] == 63016 and "outside the allowed window" in first["message"]
    assert first["more_info"] == "https://www.twilio.com/docs/errors/63016"
    assert (second["code"], second["message"]) == (21211, "Invalid 'To' Phone Number")
    assert twilio.messages == []


def test_dropped_connection(twilio: FakeTwilioServer, http: httpx2.Client) -> None:
    twilio.then(tw.DROP)
    with pytest.raises(httpx2.TransportError):
        send(http, twilio)
    assert twilio.messages == [] and twilio.requests[0].status is None
    assert send(http, twilio).status_code == 201


def test_slow_accepts_or_fails_late(twilio: FakeTwilioServer, http: httpx2.Client) -> None:
    twilio.then(tw.slow(0.2), tw.slow(0.2, tw.permanent(63016)), tw.Reply())
    started = time.monotonic()
    assert send(http, twilio, "uno").status_code == 201
    assert send(http, twilio, "dos").status_code == 400
    assert time.monotonic() - started >= 0.4
    assert send(http, twilio, "tres").status_code == 201  # Reply() accepts too
    assert [m.body for m in twilio.messages] == ["uno", "tres"]


def test_a_scripted_function_sees_the_request(twilio: FakeTwilioServer,
                                              http: httpx2.Client) -> None:
    twilio.then(lambda request: tw.permanent(63024) if "+57" in request.form["To"]
                else tw.accepted())
    assert send(http, twilio).json()["code"] == 63024
    assert twilio.unscripted == 0
