"""OpenAI-compatible doubles: reply builders, an in-memory mock and a real HTTP fake.

Two ways to stand in for the Chat Completions API, both following a script of steps
(:func:`completion` bodies with text or :func:`tool_call` entries, :func:`error`
responses, delays) and recording every request:

* :class:`ScriptedOpenAI`: the real SDK over ``httpx2.MockTransport`` (no sockets), for
  adapter tests that build ``OpenAIChatModel`` themselves;
* :class:`FakeOpenAIServer`: a real HTTP server on 127.0.0.1, for anything configured by
  URL (``OPENAI_BASE_URL=<server.url>``), such as EKI started by the pytest plugin.

The mock transport, with the real SDK::

    server = ScriptedOpenAI(completion(tool_calls=[("call_1", "mis_notas", "{}")]),
                            error(429, "Slow down"), completion("Hola"))
    model = OpenAIChatModel(api_key="sk-test", http_client=server.client(),
                            backoff_initial=0, backoff_max=0)
    ...
    assert server.requests[0]["messages"][0]["role"] == "system"

Nothing here touches the network: ``server.client()`` is an ``httpx2.AsyncClient`` over
``httpx2.MockTransport``.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx2

from eki_testing.http import DROP, Recorded, Reply, ScriptedHTTPServer
from eki_testing.http import Step as ServerStep

__all__ = [
    "DROP",
    "FakeOpenAIServer",
    "Recorded",
    "Reply",
    "ScriptedOpenAI",
    "answer",
    "completion",
    "error",
    "quota_error",
    "tool_call",
    "tool_calls",
]

#: What a scripted step may be: a 200 JSON body, a ready response, an exception to raise
#: (e.g. ``httpx2.ReadTimeout("slow")``), or a function of the request returning either.
Step = Mapping[str, Any] | httpx2.Response | Exception | Callable[[httpx2.Request], Any]


def tool_call(call_id: str, name: str, arguments: str | Mapping[str, Any] = "{}") -> dict[str, Any]:
    """One ``message.tool_calls[]`` entry; ``arguments`` is sent as given when a string."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}


def answer(text: str, *, usage: tuple[int, int, int] | None = (10, 5, 0)) -> dict[str, Any]:
    """A final answer: a ``chat.completion`` whose message is ``text``."""
    return completion(text, usage=usage)


def tool_calls(*calls: tuple[str, str | Mapping[str, Any]],
               usage: tuple[int, int, int] | None = (10, 5, 0)) -> dict[str, Any]:
    """A completion asking for tools: ``("get_my_progress", {"course": "mate"})`` pairs
    (call ids ``call_1``, ``call_2``… are made up)."""
    triples = [(f"call_{i}", name, args if isinstance(args, str)
                else json.dumps(args, ensure_ascii=False))
               for i, (name, args) in enumerate(calls, start=1)]
    return completion(tool_calls=triples, usage=usage)


def completion(
    content: str | None = None,
    tool_calls: Iterable[tuple[str, str, str]] = (),
    *,
    usage: tuple[int, int, int] | None = (10, 5, 0),
    model: str = "gpt-4o-mini-2024-07-18",
    finish_reason: str | None = None,
    completion_id: str = "chatcmpl-test",
    refusal: str | None = None,
) -> dict[str, Any]:
    """A ``chat.completion`` body. ``tool_calls`` are ``(id, name, arguments_json)`` triples;
    ``usage`` is ``(prompt, completion, cached)`` or ``None`` to leave usage out."""
    calls = [tool_call(call_id, name, args) for call_id, name, args in tool_calls]
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refusal}
    if calls:
        message["tool_calls"] = calls
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": finish_reason or ("tool_calls" if calls else "stop"),
        }],
        "system_fingerprint": "fp_test",
    }
    if usage is not None:
        prompt, completion_tokens, cached = usage
        body["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        }
    return body


def error(
    status: int,
    message: str = "error",
    *,
    error_type: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx2.Response:
    """An OpenAI-style error response: ``{"error": {"message", "type", "param", "code"}}``."""
    default_type = {400: "invalid_request_error", 401: "invalid_request_error",
                    429: "requests"}.get(status, "server_error" if status >= 500 else None)
    body = {"error": {"message": message, "type": error_type or default_type, "param": None,
                      "code": code}}
    return httpx2.Response(status, json=body, headers=dict(headers or {}))


def quota_error() -> httpx2.Response:
    """The 429 OpenAI sends when the account is out of credit (never worth retrying)."""
    return error(429, "You exceeded your current quota, please check your plan and billing "
                 "details.", error_type="insufficient_quota", code="insufficient_quota")


class ScriptedOpenAI:
    """A mock Chat Completions server: answers each request with the next scripted step
    (the last step repeats) and records every request body as parsed JSON."""

    def __init__(self, *steps: Step) -> None:
        self._steps: deque[Step] = deque(steps)
        self._last: Step | None = None
        self.requests: list[dict[str, Any]] = []
        self.raw_requests: list[httpx2.Request] = []

    def then(self, *steps: Step) -> ScriptedOpenAI:
        self._steps.extend(steps)
        return self

    def client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.MockTransport(self.handle))

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.raw_requests.append(request)
        self.requests.append(json.loads(request.content) if request.content else {})
        if self._steps:
            self._last = self._steps.popleft()
        step = self._last
        if step is None:
            step = completion("ok")
        if callable(step) and not isinstance(step, httpx2.Response | Exception):
            step = step(request)
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx2.Response):  # a fresh copy: a step may be used again
            return httpx2.Response(step.status_code, headers=step.headers, content=step.content)
        return httpx2.Response(200, json=step)


class FakeOpenAIServer(ScriptedHTTPServer):
    """An OpenAI-compatible Chat Completions server over real HTTP on 127.0.0.1.

    Give :attr:`url` as the base URL (``OPENAI_BASE_URL``, ``base_url=``; it ends in
    ``/v1``); any API key works. Each ``POST /v1/chat/completions`` gets the next step:
    a :func:`completion`/:func:`answer`/:func:`tool_calls` body, an :func:`error` response
    (5xx, 429, :func:`quota_error`…), a :class:`~eki_testing.http.Reply` with a
    ``delay``, or :data:`DROP`. When the script runs out, every further request gets a 500
    saying so (counted in :attr:`unscripted`): a test that expected fewer model calls
    fails loudly instead of passing on an invented answer. Pass ``default=`` to answer
    something else once the script is used up (e.g. ``default=answer("ok")``)."""

    base_path = "/v1"

    def __init__(self, *steps: ServerStep, default: ServerStep | None = None) -> None:
        super().__init__(*steps)
        self.default = default

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """Every chat-completions request body, parsed."""
        return [r.json for r in self if r.path.endswith("/chat/completions")]

    def default_step(self, request: Recorded) -> Any:
        if request.method != "POST" or not request.path.endswith("/chat/completions"):
            return Reply(404, {"error": {"message": f"FakeOpenAIServer does not serve "
                                                    f"{request.method} {request.path}",
                                         "type": "invalid_request_error", "param": None,
                                         "code": "unknown_url"}})
        if self.default is not None:
            return self.default
        return Reply(500, {"error": {
            "message": f"FakeOpenAIServer: script exhausted (request #{len(self.requests)} "
                       "had no scripted step)",
            "type": "server_error", "param": None, "code": "script_exhausted"}})
