"""Twilio test doubles: signed webhook requests and a fake Messages API on 127.0.0.1.

Webhook builders return the form fields Twilio posts for WhatsApp (a dict, in Twilio's
order), ready for :func:`signed_post`, which encodes them and adds a correct
``X-Twilio-Signature`` for the URL Twilio would call::

    form = twilio.text_message("573001234567", "hola", name="Ana")
    request = twilio.signed_post(form, url="http://testserver/webhooks/twilio",
                                 auth_token=twilio.AUTH_TOKEN)
    client.post(request.path, content=request.body, headers=request.headers)

:class:`FakeTwilioServer` speaks the Messages API on 127.0.0.1. It is a
:class:`~eki_testing.http.ScriptedHTTPServer`, like the fake Graph API, with
the same scripting vocabulary: it checks basic auth, records every send and answers a
``sid``, unless a scripted step says otherwise — :func:`server_error` (5xx),
:func:`rate_limited` (429, ``Retry-After``), :func:`permanent` (a Twilio error code such as
63016), :func:`slow` (latency), :data:`DROP`, any ``Reply``::

    with FakeTwilioServer() as server:
        server.then(server_error(), rate_limited(retry_after=1), permanent(63016))
        channel = TwilioChannel(ACCOUNT_SID, AUTH_TOKEN, FROM, api_url=server.url)
        ...
        [sent] = server.messages

:class:`~eki_testing.harness.EkiHarness` and the pytest plugin (fixture
``eki_twilio``) run EKI on this fake with signed webhooks.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import parse_qs, urlencode, urlsplit

import attrs

from eki_adapters.twilio import compute_twilio_signature
from eki_testing.http import DROP, Recorded, Reply, ScriptedHTTPServer, Step, slow

__all__ = [
    "ACCOUNT_SID",
    "AUTH_TOKEN",
    "DROP",
    "FROM",
    "Accepted",
    "FakeTwilioServer",
    "Recorded",
    "Reply",
    "SentMessage",
    "WebhookRequest",
    "accepted",
    "button_reply",
    "content_item",
    "encode",
    "error",
    "location_message",
    "media_message",
    "permanent",
    "rate_limited",
    "server_error",
    "sign",
    "signed_post",
    "slow",
    "status_callback",
    "text_message",
    "twilio_error",
]

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


# -- the fake Messages API: scripted steps --------------------------------------------------

#: Twilio error codes a send can fail with for good (EKI does not retry them).
PERMANENT_MESSAGES = {
    63016: "Failed to send freeform message because you are outside the allowed window.",
    63003: "Channel could not find To address",
    63024: "Invalid message recipient",
    21211: "Invalid 'To' Phone Number",
    21408: "Permission to send an SMS has not been enabled for the region",
    21610: "Attempt to send to unsubscribed recipient",
}


def twilio_error(code: int, message: str = "error", *, status: int = 400) -> dict[str, Any]:
    """A Twilio REST error body (``{"code", "message", "more_info", "status"}``)."""
    return {"code": code, "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


def error(code: int, message: str = "error", *, status: int = 400,
          delay: float = 0.0) -> Reply:
    """Any Twilio error answer, e.g. ``error(63018, "Rate limit exceeded", status=400)``."""
    return Reply(status, twilio_error(code, message, status=status), delay=delay)


def permanent(code: int = 63016, message: str | None = None, *, status: int = 400) -> Reply:
    """A permanent Twilio error (63016: outside the 24-hour window; 63003, 63024, 21211…);
    EKI records the send as failed with this code and does not retry."""
    return error(code, message or PERMANENT_MESSAGES.get(code, "error"), status=status)


def server_error(status: int = 500, *, delay: float = 0.0) -> Reply:
    """A transient 5xx with Twilio's 20500 body (EKI retries it)."""
    return error(20500, "Internal Server Error", status=status, delay=delay)


def rate_limited(*, retry_after: float | None = None, delay: float = 0.0) -> Reply:
    """A 429 with code 20429 (EKI retries, honouring ``Retry-After``)."""
    headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
    return Reply(429, twilio_error(20429, "Too Many Requests", status=429), headers,
                 delay=delay)


@dataclass
class Accepted(Reply):
    """Accept the send (201 and the created message), with this ``sid`` when given."""

    status: int = 201
    sid: str | None = None


def accepted(*, sid: str | None = None, delay: float = 0.0) -> Accepted:
    """Accept the message (with this sid, else a fresh one), after ``delay`` seconds.
    ``Reply()`` and an empty script accept too."""
    return Accepted(201, delay=delay, sid=sid)


# -- the fake Messages API: the server -------------------------------------------------------


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


class FakeTwilioServer(ScriptedHTTPServer):
    """Twilio's Messages API on 127.0.0.1 (``POST /2010-04-01/Accounts/{sid}/Messages.json``).

    :attr:`url` is the value for ``EKI_TWILIO_API_URL`` / ``TwilioChannel(api_url=…)``.
    Requests with wrong basic-auth credentials get Twilio's 401 (code 20003), other paths
    404 (20404), without using a scripted step. A step that succeeds without a body
    (``Reply()``, :func:`accepted`, an empty script) validates ``To``/``From``/``Body``
    (400 with 21604/21602 when missing), records a :class:`SentMessage` in
    :attr:`messages` and answers the created message; any other step is answered as is
    and records no message. ``latency`` delays every answer.
    """

    base_path = "/" + API_VERSION

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN,
                 *steps: Step) -> None:
        super().__init__(*steps)
        self.account_sid = account_sid
        self.auth_token = auth_token
        #: The messages accepted, oldest first.
        self.messages: list[SentMessage] = []
        self._counter = itertools.count(1)
        #: What the Content API (``GET /v1/ContentAndApprovals``) lists, in Twilio's shape
        #: (see :func:`content_item`), paged with ``PageSize``/``Page``. Point
        #: ``EKI_TWILIO_CONTENT_API_URL`` at :attr:`content_url`.
        self.contents: list[dict[str, Any]] = []
        self.content_page_size = 50

    @property
    def content_url(self) -> str:
        return self.origin + "/v1"

    def reset(self) -> Self:
        """Forget the script, the latency, every request and every accepted message."""
        with self.lock:
            self.messages.clear()
        return super().reset()

    @property
    def messages_path(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"

    # -- what EKI sent ------------------------------------------------------------------

    def sent_to(self, wa_id: str) -> list[SentMessage]:
        """The messages accepted for ``wa_id`` (with or without ``+``), oldest first."""
        with self.lock:
            return [m for m in self.messages if m.wa_id == wa_id.lstrip("+")]

    def texts_to(self, to: str | None = None, *, include_failed: bool = False) -> list[str]:
        """The bodies the fake accepted, to ``to`` (a wa_id) when given, oldest first;
        ``include_failed=True`` adds the attempts answered with an error (same as
        :meth:`FakeGraphAPI.texts_to <eki_testing.graph.FakeGraphAPI.texts_to>`)."""
        wanted = None if to is None else to.lstrip("+")
        texts = []
        for request in self.sends(include_failed=include_failed):
            form = request.form
            if wanted is None or _wa_id(form.get("To", "")) == wanted:
                texts.append(form.get("Body", ""))
        return texts

    def sends(self, *, include_failed: bool = True) -> list[Recorded]:
        """Requests to the Messages endpoint with good credentials; only those answered
        with 2xx when ``include_failed`` is false."""
        return [r for r in self if r.method == "POST" and self._is_messages_path(r.path)
                and self._authorised(r.headers.get("authorization", ""))
                and (include_failed or (r.status is not None and 200 <= r.status < 300))]

    def status_callback_for(self, sent: SentMessage, status: str, *,
                            error_code: int | None = None) -> Form:
        """The form Twilio would post to ``sent.status_callback`` for this message."""
        return status_callback(sent.sid, status, to=sent.to, error_code=error_code,
                               from_=sent.from_)

    # -- ScriptedHTTPServer hooks -------------------------------------------------------

    def guard(self, request: Recorded) -> Step | None:
        if request.path.split("?", 1)[0] == "/v1/ContentAndApprovals":
            if not self._authorised(request.headers.get("authorization", "")):
                return Reply(401, twilio_error(20003, "Authenticate", status=401))
            return self._content_page(request.path)
        if not self._is_messages_path(request.path):
            return Reply(404, {"code": 20404, "message": "The requested resource was not "
                               "found", "status": 404})
        if request.method != "POST":
            return Reply(405, twilio_error(20004, "Method not allowed", status=405))
        if not self._authorised(request.headers.get("authorization", "")):
            return Reply(401, twilio_error(20003, "Authenticate", status=401))
        return None

    def complete(self, reply: Reply, request: Recorded, index: int) -> Reply:
        if reply.body is not None or not 200 <= reply.status < 300:
            return super().complete(reply, request, index)
        form = request.form
        required = ("To", "From") if form.get("ContentSid") else ("To", "From", "Body")
        missing = [name for name in required if not form.get(name)]
        if missing:
            code = 21604 if "To" in missing else 21602
            return Reply(400, twilio_error(code, f"A '{missing[0]}' parameter is required."),
                         delay=reply.delay)
        given = reply.sid if isinstance(reply, Accepted) else None
        sid = given or f"SM{next(self._counter):032x}"
        sent = SentMessage(sid=sid, from_=form["From"], to=form["To"], body=form.get("Body", ""),
                           status_callback=form.get("StatusCallback"), form=form)
        with self.lock:
            self.messages.append(sent)
        now = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        created = {
            "account_sid": self.account_sid, "api_version": API_VERSION,
            "body": sent.body, "date_created": now, "date_sent": None,
            "date_updated": now, "direction": "outbound-api", "error_code": None,
            "error_message": None, "from": sent.from_, "messaging_service_sid": None,
            "num_media": "0", "num_segments": "1", "price": None, "price_unit": None,
            "sid": sid, "status": "queued", "to": sent.to,
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        return Reply(201, created, dict(reply.headers), delay=reply.delay)

    def _content_page(self, path: str) -> Reply:
        query = parse_qs(urlsplit(path).query)
        try:
            size = max(1, min(500, int(query.get("PageSize", [self.content_page_size])[0])))
            page = max(0, int(query.get("Page", ["0"])[0]))
        except ValueError:
            return Reply(400, twilio_error(20001, "Invalid paging parameter"))
        with self.lock:
            items = self.contents[page * size:(page + 1) * size]
            more = (page + 1) * size < len(self.contents)
        base = f"{self.content_url}/ContentAndApprovals?PageSize={size}"
        meta = {"page": page, "page_size": size, "key": "contents",
                "first_page_url": f"{base}&Page=0", "url": f"{base}&Page={page}",
                "previous_page_url": f"{base}&Page={page - 1}" if page else None,
                "next_page_url": f"{base}&Page={page + 1}" if more else None}
        return Reply(200, {"contents": items, "meta": meta})

    def template_sends(self) -> list[SentMessage]:
        """The accepted messages that were templates (``ContentSid``), oldest first."""
        with self.lock:
            return [m for m in self.messages if m.form.get("ContentSid")]

    def _is_messages_path(self, path: str) -> bool:
        return path.split("?", 1)[0] == self.messages_path

    def _authorised(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == self.account_sid and password == self.auth_token


def content_item(sid: str, name: str, body: str, *, language: str = "es",
                 status: str = "approved", category: str = "UTILITY") -> dict[str, Any]:
    """One Content API item as ``GET /v1/ContentAndApprovals`` lists it."""
    return {"sid": sid, "friendly_name": name, "language": language,
            "variables": {}, "types": {"twilio/text": {"body": body}},
            "approval_requests": {"name": name, "category": category, "status": status,
                                  "rejection_reason": "", "content_type": "twilio/text"}}


def _wa_id(address: str) -> str:
    return address.removeprefix("whatsapp:").lstrip("+")
