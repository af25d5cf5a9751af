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

from eki_testing.http import DROP, Recorded, Reply, ScriptedHTTPServer, slow

__all__ = [
    "DROP",
    "FakeGraphAPI",
    "Recorded",
    "Reply",
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

    def read_receipts(self) -> list[str]:
        """The message ids EKI marked as read."""
        return [str(_payload(r).get("message_id")) for r in self
                if _payload(r).get("status") == "read"]


def _payload(request: Recorded) -> dict[str, Any]:
    try:
        data = request.json
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
