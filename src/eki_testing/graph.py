"""A fake WhatsApp Cloud (Graph) API on 127.0.0.1: records sends, injects failures.

Point EKI at it with ``EKI_WHATSAPP_API_URL=<fake.url>`` (any access token and phone
number id work)::

    with FakeGraphAPI() as graph:
        graph.then(server_error(), rate_limited(), permanent(131047))
        ...                                   # EKI sends through graph.url
        assert graph.texts_to("573001234567") == ["Hola Ana …"]

An empty script answers every request with success (a fresh ``wamid``), so tests only
script the failures they want.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from eki_testing.http import DROP, Recorded, Reply, ScriptedHTTPServer, Step, slow

__all__ = [
    "DROP",
    "FakeGraphAPI",
    "Recorded",
    "Reply",
    "graph_template",
    "meta_error",
    "permanent",
    "rate_limited",
    "server_error",
    "slow",
]

#: Graph error codes EKI treats as permanent (never retried), with Meta's titles.
PERMANENT_TITLES = {
    131047: "Re-engagement message",
    131026: "Message undeliverable",
    131051: "Unsupported message type",
    131052: "Media download error",
    100: "Invalid parameter",
    190: "Invalid OAuth access token",
    131030: "Recipient phone number not in allowed list",
}


def meta_error(code: int, message: str = "error", status_type: str = "OAuthException"
               ) -> dict[str, Any]:
    """A Graph API error body (``{"error": {"message", "type", "code", …}}``)."""
    return {"error": {"message": message, "type": status_type, "code": code,
                      "error_data": {"messaging_product": "whatsapp", "details": message},
                      "fbtrace_id": "AbCdEf"}}


def server_error(status: int = 500, body: Any = b"<html>Internal error</html>") -> Reply:
    """A transient 5xx (EKI retries it)."""
    return Reply(status, body)


def rate_limited(code: int = 130429, *, retry_after: float | None = None) -> Reply:
    """A 429 with Meta's throughput code (EKI retries, honouring ``Retry-After``)."""
    headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
    return Reply(429, meta_error(code, "Rate limit hit"), headers)


def permanent(code: int = 131047, message: str | None = None, *, status: int = 400) -> Reply:
    """A permanent Graph error (131047: outside the 24-hour window; 131026: undeliverable…);
    EKI records the send as failed with this code and does not retry."""
    return Reply(status, meta_error(code, message or PERMANENT_TITLES.get(code, "error")))


class FakeGraphAPI(ScriptedHTTPServer):
    """The messages endpoint of the Graph API (``POST /v25.0/{phone-number-id}/messages``).

    :attr:`url` is what ``EKI_WHATSAPP_API_URL`` should be."""

    base_path = "/v25.0"
    #: Templates listed per page when the request gives no ``limit``.
    template_page_size = 25

    def __init__(self, *steps: Step) -> None:
        super().__init__(*steps)
        #: What ``GET /{waba-id}/message_templates`` lists, in Graph's shape (see
        #: :func:`graph_template`), paged with ``limit``/``after`` like Graph does.
        self.templates: list[dict[str, Any]] = []

    def guard(self, request: Recorded) -> Step | None:
        parts = urlsplit(request.path)
        if request.method == "GET" and parts.path.endswith("/message_templates"):
            return self._template_page(parts.path, parse_qs(parts.query))
        return None

    def _template_page(self, path: str, query: dict[str, list[str]]) -> Reply:
        if not path.startswith(self.base_path + "/"):
            return Reply(404, meta_error(100, "Unknown path"))
        try:
            limit = max(1, min(100, int(query.get("limit", [self.template_page_size])[0])))
            start = int(query.get("after", ["0"])[0])
        except ValueError:
            return Reply(400, meta_error(100, "Invalid parameter"))
        with self.lock:
            page = self.templates[start:start + limit]
            more = start + limit < len(self.templates)
        body: dict[str, Any] = {"data": page, "paging": {
            "cursors": {"before": str(start), "after": str(start + limit)}}}
        if more:
            body["paging"]["next"] = (f"{self.origin}{path}?limit={limit}"
                                      f"&after={start + limit}")
        return Reply(200, body)

    def success_body(self, request: Recorded, index: int) -> Any:
        data = _payload(request)
        if data.get("status") == "read":
            return {"success": True}
        to = str(data.get("to", ""))
        return {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": f"wamid.OK{index}"}]}

    # -- what EKI sent ----------------------------------------------------------------------

    def sends(self, *, include_failed: bool = True) -> list[Recorded]:
        """Requests that send a message (not read receipts); only those answered with
        2xx when ``include_failed`` is false."""
        return [r for r in self if _payload(r).get("type") is not None
                and (include_failed or (r.status is not None and 200 <= r.status < 300))]

    def texts_to(self, to: str | None = None, *, include_failed: bool = False) -> list[str]:
        """The text bodies the fake accepted (2xx), to ``to`` (a wa_id) when given, oldest
        first; ``include_failed=True`` adds the attempts answered with an error."""
        texts = []
        for request in self.sends(include_failed=include_failed):
            data = _payload(request)
            if data.get("type") == "text" and (to is None or data.get("to") == to):
                texts.append(str(data.get("text", {}).get("body", "")))
        return texts

    def templates_to(self, to: str | None = None, *, include_failed: bool = False
                     ) -> list[tuple[str, str, list[str]]]:
        """The template sends the fake accepted: (name, language code, body parameters),
        to ``to`` (a wa_id) when given, oldest first."""
        sent = []
        for request in self.sends(include_failed=include_failed):
            data = _payload(request)
            if data.get("type") != "template" or (to is not None and data.get("to") != to):
                continue
            template = data.get("template", {})
            params = [str(p.get("text")) for c in template.get("components", [])
                      if c.get("type") == "body" for p in c.get("parameters", [])]
            sent.append((str(template.get("name")),
                         str(template.get("language", {}).get("code")), params))
        return sent

    def read_receipts(self) -> list[str]:
        """The message ids EKI marked as read."""
        return [str(_payload(r).get("message_id")) for r in self
                if _payload(r).get("status") == "read"]


def graph_template(name: str, body: str, *, language: str = "es", status: str = "APPROVED",
                   category: str = "UTILITY", template_id: str = "1") -> dict[str, Any]:
    """One template as ``GET /{waba-id}/message_templates`` lists it."""
    return {"name": name, "language": language, "status": status, "category": category,
            "id": template_id, "components": [{"type": "BODY", "text": body}]}


def _payload(request: Recorded) -> dict[str, Any]:
    try:
        data = request.json
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
