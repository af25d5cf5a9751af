"""Twilio test doubles: signed webhook requests and a fake Messages API on 127.0.0.1.

Webhook builders return the form fields Twilio posts for WhatsApp (a dict, in Twilio's
order), ready for :func:`signed_post`, which encodes them and adds a correct
``X-Twilio-Signature`` for the URL Twilio would call::

    form = twilio.text_message("573001234567", "hola", name="Ana")
    request = twilio.signed_post(form, url="http://testserver/webhooks/twilio",
                                 auth_token=twilio.AUTH_TOKEN)
    client.post(request.path, content=request.body, headers=request.headers)

:class:`FakeTwilioServer` is a real HTTP server (a thread, ``ThreadingHTTPServer``) that
speaks the Messages API: it checks basic auth, records every send and answers a ``sid``,
unless a scripted reply says otherwise (5xx, 429, a Twilio error code such as 63016, a
body that is not JSON) or adds latency::

    with FakeTwilioServer() as server:
        server.then(TwilioReply.server_error(), TwilioReply.rate_limited())
        channel = TwilioChannel(ACCOUNT_SID, AUTH_TOKEN, FROM, api_url=server.url)
        ...
        [sent] = server.messages
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import attrs

from eki_adapters.twilio import compute_twilio_signature

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-test-auth-token"
#: Twilio's WhatsApp sandbox number.
FROM = "whatsapp:+14155238886"
API_VERSION = "2010-04-01"

Form = dict[str, str]


def new_message_sid(prefix: str = "SM") -> str:
    """A fresh 34-character id (``SM`` messages, ``MM`` media messages)."""
    return prefix + uuid.uuid4().hex


def _address(wa_id: str) -> str:
    return "whatsapp:+" + wa_id.removeprefix("whatsapp:").lstrip("+")


def _inbound(wa_id: str, *, body: str, sid: str | None, name: str | None, to: str,
             message_type: str, num_media: int = 0, prefix: str = "SM") -> Form:
    sid = sid or new_message_sid(prefix)
    form: Form = {
        "SmsMessageSid": sid,
        "NumMedia": str(num_media),
        "ProfileName": name or "",
        "MessageType": message_type,
        "SmsSid": sid,
        "WaId": wa_id.removeprefix("whatsapp:").lstrip("+"),
        "SmsStatus": "received",
        "Body": body,
        "To": to,
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": _address(wa_id),
        "ApiVersion": API_VERSION,
    }
    if not name:
        del form["ProfileName"]
    return form


def text_message(wa_id: str, body: str, *, name: str | None = None, sid: str | None = None,
                 to: str = FROM, replied_to: str | None = None) -> Form:
    """A WhatsApp text; ``replied_to`` (a message sid) marks a reply to an earlier message."""
    form = _inbound(wa_id, body=body, sid=sid, name=name, to=to, message_type="text")
    if replied_to is not None:
        form["OriginalRepliedMessageSender"] = to
        form["OriginalRepliedMessageSid"] = replied_to
    return form


def media_message(wa_id: str, content_type: str = "image/jpeg", *, caption: str = "",
                  count: int = 1, name: str | None = None, sid: str | None = None,
                  to: str = FROM) -> Form:
    """An image, audio (``audio/ogg`` = a voice note), video, document or sticker."""
    major = content_type.split("/", 1)[0]
    kind = {"image": "image", "audio": "audio", "video": "video"}.get(major, "document")
    if content_type == "image/webp":
        kind = "sticker"
    sid = sid or new_message_sid("MM")
    form = _inbound(wa_id, body=caption, sid=sid, name=name, to=to, message_type=kind,
                    num_media=count)
    for index in range(count):
        form[f"MediaContentType{index}"] = content_type
        form[f"MediaUrl{index}"] = (f"https://api.twilio.com/{API_VERSION}/Accounts/"
                                    f"{ACCOUNT_SID}/Messages/{sid}/Media/"
                                    f"{new_message_sid('ME')}")
    return form


def button_reply(wa_id: str, text: str, payload: str, *, name: str | None = None,
                 sid: str | None = None, to: str = FROM,
                 replied_to: str | None = None) -> Form:
    """A tap on a quick-reply button of a template (``ButtonText``/``ButtonPayload``)."""
    form = _inbound(wa_id, body=text, sid=sid, name=name, to=to, message_type="button")
    form["ButtonText"] = text
    form["ButtonPayload"] = payload
    if replied_to is not None:
        form["OriginalRepliedMessageSender"] = to
        form["OriginalRepliedMessageSid"] = replied_to
    return form


def location_message(wa_id: str, latitude: float, longitude: float, *,
                     label: str | None = None, sid: str | None = None,
                     to: str = FROM) -> Form:
    form = _inbound(wa_id, body="", sid=sid, name=None, to=to, message_type="location")
    form["Latitude"] = str(latitude)
    form["Longitude"] = str(longitude)
    if label:
        form["Label"] = label
    return form


def status_callback(sid: str, status: str, *, to: str, error_code: int | str | None = None,
                    error_message: str | None = None, from_: str = FROM) -> Form:
    """A ``StatusCallback`` post: queued, sent, delivered, read, failed, undelivered…"""
    form: Form = {
        "ChannelPrefix": "whatsapp",
        "ApiVersion": API_VERSION,
        "MessageStatus": status,
        "SmsSid": sid,
        "SmsStatus": status,
        "ChannelInstallSid": "XE" + "0" * 32,
        "To": _address(to),
        "From": from_,
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "ChannelToAddress": "+" + to.removeprefix("whatsapp:").lstrip("+"),
    }
    if status == "read":
        form["EventType"] = "READ"
    if error_code is not None:
        form["ErrorCode"] = str(error_code)
    if error_message is not None:
        form["ErrorMessage"] = error_message
    return form


def encode(form: Mapping[str, str]) -> bytes:
    """The body Twilio posts (``application/x-www-form-urlencoded``, UTF-8)."""
    return urlencode(list(form.items())).encode("utf-8")


def sign(url: str, form: Mapping[str, str], auth_token: str = AUTH_TOKEN) -> str:
    """The ``X-Twilio-Signature`` Twilio sends when posting ``form`` to ``url``."""
    return compute_twilio_signature(url, form, auth_token)


@attrs.frozen
class WebhookRequest:
    """A POST as Twilio would send it: where, what and with which headers."""

    url: str
    body: bytes
    headers: dict[str, str]

    @property
    def path(self) -> str:
        """Path and query, for clients with a base URL (Starlette's TestClient)."""
        parts = urlsplit(self.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")


def signed_post(form: Mapping[str, str], *, url: str, auth_token: str = AUTH_TOKEN,
                signed_url: str | None = None) -> WebhookRequest:
    """``form`` encoded and signed for ``url`` (or for ``signed_url``: the public URL
    Twilio called when a proxy forwards the request to ``url``)."""
    return WebhookRequest(
        url=url,
        body=encode(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "X-Twilio-Signature": sign(signed_url or url, form, auth_token),
            "I-Twilio-Idempotency-Token": uuid.uuid4().hex,
            "User-Agent": "TwilioProxy/1.1",
        },
    )


# -- the fake Messages API ------------------------------------------------------------------


@attrs.define
class TwilioReply:
    """One scripted answer of :class:`FakeTwilioServer` (the default: accept the send)."""

    status: int = 201
    body: Any = None  # None → a created message; dict → JSON; bytes → as is
    headers: dict[str, str] = attrs.field(factory=dict)
    delay: float = 0.0  # seconds to wait before answering (latency, client timeouts)

    @classmethod
    def ok(cls, *, sid: str | None = None, delay: float = 0.0) -> TwilioReply:
        """Accept the message (with this sid, else a fresh one)."""
        return cls(201, None if sid is None else {"sid": sid}, delay=delay)

    @classmethod
    def server_error(cls, status: int = 500, *, delay: float = 0.0) -> TwilioReply:
        return cls(status, {"code": 20500, "message": "Internal Server Error",
                            "more_info": "https://www.twilio.com/docs/errors/20500",
                            "status": status}, delay=delay)

    @classmethod
    def rate_limited(cls, *, retry_after: float | None = None,
                     delay: float = 0.0) -> TwilioReply:
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        return cls(429, {"code": 20429, "message": "Too Many Requests",
                         "more_info": "https://www.twilio.com/docs/errors/20429",
                         "status": 429}, headers=headers, delay=delay)

    @classmethod
    def error(cls, code: int, message: str = "error", *, status: int = 400,
              delay: float = 0.0) -> TwilioReply:
        """A Twilio error answer, e.g. ``error(63016)`` (outside the 24 h window)."""
        return cls(status, {"code": code, "message": message,
                            "more_info": f"https://www.twilio.com/docs/errors/{code}",
                            "status": status}, delay=delay)


@attrs.frozen
class SeenRequest:
    """Any request the server received (accepted or not)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))


@attrs.frozen
class SentMessage:
    """A message the fake accepted (answered 201 with ``sid``)."""

    sid: str
    from_: str
    to: str
    body: str
    status_callback: str | None
    form: dict[str, str]

    @property
    def wa_id(self) -> str:
        return self.to.removeprefix("whatsapp:").lstrip("+")


class FakeTwilioServer:
    """Twilio's Messages API on 127.0.0.1: records sends, answers scripted failures.

    ``url`` is the value for ``EKI_TWILIO_API_URL`` / ``TwilioChannel(api_url=…)``.
    Requests with wrong basic-auth credentials get Twilio's 401 (code 20003). ``latency``
    delays every answer; a reply's own ``delay`` adds to it.
    """

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.script: list[TwilioReply] = []
        self.requests: list[SeenRequest] = []
        self.messages: list[SentMessage] = []
        self.latency = 0.0
        self.lock = threading.Lock()
        self._counter = itertools.count(1)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                status, payload, headers, delay = server._handle(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up (timeout tests)
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/{API_VERSION}"
        self._thread: threading.Thread | None = None

    # -- control ------------------------------------------------------------------------

    def start(self) -> FakeTwilioServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self.server.serve_forever,
                                            kwargs={"poll_interval": 0.05}, daemon=True,
                                            name="fake-twilio")
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server.server_close()

    def __enter__(self) -> FakeTwilioServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def then(self, *replies: TwilioReply) -> FakeTwilioServer:
        """Answer the next requests with these replies, in order (then accept again)."""
        with self.lock:
            self.script.extend(replies)
        return self

    def reset(self) -> FakeTwilioServer:
        """Forget the script, the latency and everything seen."""
        with self.lock:
            self.script.clear()
            self.requests.clear()
            self.messages.clear()
            self.latency = 0.0
        return self

    @property
    def messages_path(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"

    def sent_to(self, wa_id: str) -> list[SentMessage]:
        with self.lock:
            return [m for m in self.messages if m.wa_id == wa_id.lstrip("+")]

    def status_callback_for(self, sent: SentMessage, status: str, *,
                            error_code: int | None = None) -> Form:
        """The form Twilio would post to ``sent.status_callback`` for this message."""
        return status_callback(sent.sid, status, to=sent.to, error_code=error_code,
                               from_=sent.from_)

    # -- the API ------------------------------------------------------------------------

    def _handle(self, path: str, headers: dict[str, str], body: bytes
                ) -> tuple[int, bytes, dict[str, str], float]:
        with self.lock:
            self.requests.append(SeenRequest("POST", path, headers, body))
            latency = self.latency
            if path.split("?", 1)[0] != self.messages_path:
                return (404, _json({"code": 20404, "message": "The requested resource was "
                                    "not found", "status": 404}), {}, latency)
            if not self._authorised(headers.get("authorization", "")):
                return (401, _json({"code": 20003, "message": "Authenticate",
                                    "more_info": "https://www.twilio.com/docs/errors/20003",
                                    "status": 401}), {}, latency)
            reply = self.script.pop(0) if self.script else TwilioReply()
            delay = latency + reply.delay
            if reply.status != 201 or isinstance(reply.body, bytes):
                payload = (reply.body if isinstance(reply.body, bytes)
                           else _json(reply.body if reply.body is not None else {}))
                return reply.status, payload, dict(reply.headers), delay
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            missing = [name for name in ("To", "From", "Body") if not form.get(name)]
            if missing:
                return (400, _json({"code": 21604 if "To" in missing else 21602,
                                    "message": f"A '{missing[0]}' parameter is required.",
                                    "status": 400}), {}, delay)
            given = reply.body.get("sid") if isinstance(reply.body, dict) else None
            sid = given or f"SM{next(self._counter):032x}"
            sent = SentMessage(sid=sid, from_=form["From"], to=form["To"], body=form["Body"],
                               status_callback=form.get("StatusCallback"), form=form)
            self.messages.append(sent)
            now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
            answer = {
                "account_sid": self.account_sid, "api_version": API_VERSION,
                "body": sent.body, "date_created": now, "date_sent": None,
                "date_updated": now, "direction": "outbound-api", "error_code": None,
                "error_message": None, "from": sent.from_, "messaging_service_sid": None,
                "num_media": "0", "num_segments": "1", "price": None, "price_unit": None,
                "sid": sid, "status": "queued", "to": sent.to,
                "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json",
            }
            return 201, _json(answer), dict(reply.headers), delay

    def _authorised(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == self.account_sid and password == self.auth_token


def _json(data: Any) -> bytes:
    return json.dumps(data).encode("utf-8")
