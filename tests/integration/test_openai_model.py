"""OpenAIChatModel over the real openai SDK, with an httpx2.MockTransport instead of the network."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator

import httpx2
import openai
import pytest

from eki_adapters.openai import OpenAIChatModel, to_openai_messages
from eki_domain.ports.llm import (
    ChatMessage,
    LanguageModel,
    ModelError,
    ModelErrorKind,
    ModelUsage,
    ToolCall,
    ToolSpec,
)
from eki_testing.openai import (
    ScriptedOpenAI,
    completion,
    error,
    quota_error,
)

KEY = "sk-proj-TESTKEY-1234567890abcdef"
BASE_URL = "https://llm.test/v1"
SECRET_TEXT = "Ana Pérez tiene 2.1 en Matemáticas"  # must never reach a log line

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "mis_notas",
            "description": "Notas del estudiante en un periodo.",
            "parameters": {
                "type": "object",
                "properties": {"periodo": {"type": ["integer", "null"]}},
                "required": ["periodo"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    },
    {
        "type": "function",
        "function": {
            "name": "mi_asistencia",
            "description": "Faltas del estudiante.",
            "parameters": {"type": "object", "properties": {}, "required": [],
                           "additionalProperties": False},
            "strict": True,
        },
    },
]
#: The same tools as the port takes them (the adapter renders them as TOOLS above).
SPECS = [ToolSpec(t["function"]["name"], t["function"]["description"],
                  t["function"]["parameters"], strict=t["function"]["strict"]) for t in TOOLS]

HISTORY = (
    ChatMessage("system", "Eres EKI, el asistente del colegio."),
    ChatMessage("user", "hola"),
    ChatMessage("assistant", "¡Hola Ana! ¿En qué te ayudo?"),
    ChatMessage("user", "¿cómo voy en el periodo 2 y cuántas faltas tengo?"),
)


@pytest.fixture
def server() -> ScriptedOpenAI:
    return ScriptedOpenAI()


@pytest.fixture
async def model(server: ScriptedOpenAI) -> AsyncIterator[OpenAIChatModel]:
    async with (
        server.client() as http,
        OpenAIChatModel(api_key=KEY, base_url=BASE_URL, http_client=http, timeout=2.0,
                        max_attempts=3, backoff_initial=0.001, backoff_max=0.01) as llm,
    ):
        yield llm


async def failure(llm: OpenAIChatModel) -> ModelError:
    with pytest.raises(ModelError) as caught:
        await llm.complete([ChatMessage("user", "hola")])
    return caught.value


# -- requests and replies -----------------------------------------------------------


async def test_two_tool_calls_then_tool_results_sent_with_their_ids(
    server: ScriptedOpenAI, model: OpenAIChatModel
) -> None:
    server.then(
        completion(tool_calls=[("call_A", "mis_notas", '{"periodo": 2}'),
                               ("call_B", "mi_asistencia", "{not json")],
                   usage=(310, 40, 0)),
        completion("*Matemáticas*: 4.5", usage=(420, 12, 256)),
    )
    first = await model.complete(HISTORY, tools=SPECS, tool_choice="auto",
                                 safety_identifier="9f2c0a", max_output_tokens=300)

    assert first.content is None
    assert first.tool_calls == (ToolCall("call_A", "mis_notas", '{"periodo": 2}'),
                                ToolCall("call_B", "mi_asistencia", "{not json"))
    assert first.finish_reason == "tool_calls"
    assert first.usage == ModelUsage(310, 40, 0)

    conversation = (
        *HISTORY,
        ChatMessage("assistant", None, tool_calls=first.tool_calls),
        ChatMessage("tool", '{"notas": [{"materia": "Matemáticas", "nota": 4.5}]}',
                    tool_call_id="call_A"),
        ChatMessage("tool", '{"error": "argumentos inválidos"}', tool_call_id="call_B"),
    )
    second = await model.complete(conversation, tools=SPECS, tool_choice="none",
                                  safety_identifier="9f2c0a", max_output_tokens=300)
    assert second.content == "*Matemáticas*: 4.5"
    assert second.tool_calls == ()

    assert len(server.requests) == 2
    for request in server.raw_requests:
        assert request.method == "POST"
        assert str(request.url) == f"{BASE_URL}/chat/completions"
        assert request.headers["authorization"] == f"Bearer {KEY}"
    base_messages = [
        {"role": "system", "content": "Eres EKI, el asistente del colegio."},
        {"role": "user", "content": "hola"},
        {"role": "assistant", "content": "¡Hola Ana! ¿En qué te ayudo?"},
        {"role": "user", "content": "¿cómo voy en el periodo 2 y cuántas faltas tengo?"},
    ]
    assert server.requests[0] == {
        "model": "gpt-4o-mini",
        "messages": base_messages,
        "tools": TOOLS,
        "tool_choice": "auto",
        "safety_identifier": "9f2c0a",
        "max_completion_tokens": 300,
        "store": False,
    }
    assert server.requests[1] == {
        "model": "gpt-4o-mini",
        "messages": [
            *base_messages,
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_A", "type": "function",
                 "function": {"name": "mis_notas", "arguments": '{"periodo": 2}'}},
                {"id": "call_B", "type": "function",
                 "function": {"name": "mi_asistencia", "arguments": "{not json"}},
            ]},
            {"role": "tool", "tool_call_id": "call_A",
             "content": '{"notas": [{"materia": "Matemáticas", "nota": 4.5}]}'},
            {"role": "tool", "tool_call_id": "call_B",
             "content": '{"error": "argumentos inválidos"}'},
        ],
        "tools": TOOLS,
        "tool_choice": "none",
        "safety_identifier": "9f2c0a",
        "max_completion_tokens": 300,
        "store": False,
    }


async def test_final_text_answer_with_usage_and_cached_tokens(
    server: ScriptedOpenAI, model: OpenAIChatModel
) -> None:
    server.then(completion("Vas muy bien, Ana.", usage=(1200, 30, 1024),
                           model="gpt-4o-mini-2024-07-18"))
    reply = await model.complete([ChatMessage("user", "¿cómo voy?")])

    assert reply.content == "Vas muy bien, Ana."
    assert reply.tool_calls == ()
    assert reply.usage == ModelUsage(prompt_tokens=1200, completion_tokens=30, cached_tokens=1024)
    assert reply.usage.total_tokens == 1230
    assert reply.model == "gpt-4o-mini-2024-07-18"
    assert reply.finish_reason == "stop"
    assert 0 <= reply.latency_ms < 2000
    # No tools: neither tools nor tool_choice; no optional limits either.
    assert server.requests == [{"model": "gpt-4o-mini",
                                "messages": [{"role": "user", "content": "¿cómo voy?"}],
                                "store": False}]


async def test_tool_choice_is_omitted_without_tools(server: ScriptedOpenAI,
                                                    model: OpenAIChatModel) -> None:
    await model.complete([ChatMessage("user", "hola")], tools=[], tool_choice="none")
    assert "tools" not in server.requests[0]
    assert "tool_choice" not in server.requests[0]


async def test_missing_usage_counts_as_zero(server: ScriptedOpenAI,
                                            model: OpenAIChatModel) -> None:
    server.then(completion("hola", usage=None))
    reply = await model.complete([ChatMessage("user", "hola")])
    assert reply.usage == ModelUsage(0, 0, 0)


async def test_compatible_server_quirks_are_tolerated(server: ScriptedOpenAI,
                                                      model: OpenAIChatModel) -> None:
    # No tool-call type nor id, arguments as an object, no prompt_tokens_details.
    body = completion(usage=None)
    body["choices"][0]["message"]["tool_calls"] = [
        {"function": {"name": "mis_notas", "arguments": {"periodo": 1}}}
    ]
    body["usage"] = {"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57}
    server.then(body)
    reply = await model.complete([ChatMessage("user", "notas")], tools=SPECS)
    assert reply.tool_calls == (ToolCall("call_0", "mis_notas", '{"periodo": 1}'),)
    assert reply.usage == ModelUsage(50, 7, 0)


async def test_garbage_usage_counts_as_zero(server: ScriptedOpenAI,
                                            model: OpenAIChatModel) -> None:
    body = completion("hola")
    body["usage"] = {"prompt_tokens": "12", "completion_tokens": -3,
                     "prompt_tokens_details": "n/a"}
    server.then(body)
    reply = await model.complete([ChatMessage("user", "hola")])
    assert (reply.content, reply.usage) == ("hola", ModelUsage(0, 0, 0))


# -- retried failures ----------------------------------------------------------------


async def test_500_then_success(server: ScriptedOpenAI, model: OpenAIChatModel) -> None:
    server.then(error(500, "The server had an error while processing your request."),
                completion("listo"))
    reply = await model.complete([ChatMessage("user", "hola")])
    assert reply.content == "listo"
    assert len(server.requests) == 2
    assert server.requests[0] == server.requests[1]


async def test_429_rate_limit_then_success(server: ScriptedOpenAI,
                                           model: OpenAIChatModel) -> None:
    server.then(error(429, "Rate limit reached for gpt-4o-mini", code="rate_limit_exceeded"),
                completion("listo"))
    reply = await model.complete([ChatMessage("user", "hola")])
    assert reply.content == "listo"
    assert len(server.requests) == 2


async def test_retry_after_is_honoured_but_capped_at_backoff_max(server: ScriptedOpenAI) -> None:
    server.then(error(429, "slow down", headers={"Retry-After": "30"}),
                error(503, "busy", headers={"retry-after-ms": "20000"}),
                completion("listo"))
    async with (
        server.client() as http,
        OpenAIChatModel(api_key=KEY, http_client=http, backoff_initial=0.001,
                        backoff_max=0.05) as llm,
    ):
        started = time.monotonic()
        reply = await llm.complete([ChatMessage("user", "hola")])
        elapsed = time.monotonic() - started
    assert reply.content == "listo"
    assert len(server.requests) == 3
    assert 0.09 <= elapsed < 1.5  # two waits of backoff_max, not 30 s and 20 s


async def test_429_that_never_clears_is_rate_limited(server: ScriptedOpenAI,
                                                     model: OpenAIChatModel) -> None:
    server.then(error(429, "Rate limit reached", code="rate_limit_exceeded"))
    exc = await failure(model)
    assert (exc.kind, exc.status, exc.code) == (ModelErrorKind.RATE_LIMITED, 429,
                                                 "MODEL_RATE_LIMITED")
    assert len(server.requests) == 3


async def test_persistent_5xx_is_server_error(server: ScriptedOpenAI,
                                              model: OpenAIChatModel) -> None:
    server.then(httpx2.Response(502, content=b"<html>Bad gateway</html>"))
    exc = await failure(model)
    assert (exc.kind, exc.status) == (ModelErrorKind.SERVER, 502)
    assert len(server.requests) == 3


async def test_timeout_is_retried_then_reported(server: ScriptedOpenAI,
                                                model: OpenAIChatModel) -> None:
    server.then(httpx2.ReadTimeout("the model is thinking"))
    exc = await failure(model)
    assert (exc.kind, exc.status) == (ModelErrorKind.TIMEOUT, None)
    assert isinstance(exc.__cause__, openai.APITimeoutError)  # what the SDK wraps it in
    assert isinstance(exc.__cause__.__cause__, httpx2.ReadTimeout)
    assert len(server.requests) == 3


async def test_timeout_then_success(server: ScriptedOpenAI, model: OpenAIChatModel) -> None:
    server.then(httpx2.ReadTimeout("slow"), completion("listo"))
    assert (await model.complete([ChatMessage("user", "hola")])).content == "listo"
    assert len(server.requests) == 2


async def test_connection_error_is_network(server: ScriptedOpenAI,
                                           model: OpenAIChatModel) -> None:
    server.then(httpx2.ConnectError("connection refused"))
    exc = await failure(model)
    assert (exc.kind, exc.status) == (ModelErrorKind.NETWORK, None)
    assert isinstance(exc.__cause__, openai.APIConnectionError)
    assert "ConnectError" in exc.message
    assert len(server.requests) == 3


# -- permanent failures --------------------------------------------------------------


async def test_insufficient_quota_is_not_retried(server: ScriptedOpenAI,
                                                 model: OpenAIChatModel) -> None:
    server.then(quota_error())
    exc = await failure(model)
    assert (exc.kind, exc.status, exc.code) == (ModelErrorKind.QUOTA, 429, "MODEL_QUOTA")
    assert "insufficient_quota" in exc.message
    assert len(server.requests) == 1


async def test_400_is_bad_request_after_one_request(server: ScriptedOpenAI,
                                                    model: OpenAIChatModel) -> None:
    server.then(error(400, "Invalid parameter: messages with role 'tool' must be a response "
                      "to a preceeding message with 'tool_calls'.", code=None))
    exc = await failure(model)
    assert (exc.kind, exc.status) == (ModelErrorKind.BAD_REQUEST, 400)
    assert "must be a response" in exc.message  # the server's reason helps the operator
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, ModelErrorKind.AUTH), (403, ModelErrorKind.AUTH),
     (404, ModelErrorKind.BAD_REQUEST), (409, ModelErrorKind.BAD_REQUEST),
     (422, ModelErrorKind.BAD_REQUEST)],
)
async def test_other_4xx_are_not_retried(server: ScriptedOpenAI, model: OpenAIChatModel,
                                         status: int, kind: ModelErrorKind) -> None:
    server.then(error(status, "nope", headers={"x-should-retry": "true"}))
    exc = await failure(model)
    assert (exc.kind, exc.status) == (kind, status)
    assert len(server.requests) == 1


async def test_401_message_never_carries_the_key(server: ScriptedOpenAI,
                                                 model: OpenAIChatModel) -> None:
    server.then(error(401, f"Incorrect API key provided: {KEY[:8]}****{KEY[-4:]}.",
                      code="invalid_api_key"))
    exc = await failure(model)
    assert exc.kind is ModelErrorKind.AUTH
    assert "invalid_api_key" in exc.message
    assert KEY[:8] not in exc.message and KEY[:8] not in repr(exc)


async def test_key_fragments_are_masked_in_bad_request_details(server: ScriptedOpenAI,
                                                               model: OpenAIChatModel) -> None:
    server.then(error(400, f"Project for key {KEY[:10]}abc is archived"))
    exc = await failure(model)
    assert exc.kind is ModelErrorKind.BAD_REQUEST
    assert KEY[:10] not in exc.message


async def test_empty_choices_is_invalid_response(server: ScriptedOpenAI,
                                                 model: OpenAIChatModel) -> None:
    body = completion("x")
    body["choices"] = []
    server.then(body)
    exc = await failure(model)
    assert (exc.kind, exc.status) == (ModelErrorKind.INVALID_RESPONSE, 200)
    assert len(server.requests) == 1


@pytest.mark.parametrize("content", [None, "", "   \n"])
async def test_choice_without_text_nor_tool_calls_is_invalid(
    server: ScriptedOpenAI, model: OpenAIChatModel, content: str | None
) -> None:
    server.then(completion(content, finish_reason="length"))
    exc = await failure(model)
    assert exc.kind is ModelErrorKind.INVALID_RESPONSE
    assert "length" in exc.message
    assert len(server.requests) == 1


async def test_refusal_is_invalid_response(server: ScriptedOpenAI,
                                           model: OpenAIChatModel) -> None:
    server.then(completion(refusal="I can't help with that."))
    exc = await failure(model)
    assert exc.kind is ModelErrorKind.INVALID_RESPONSE
    assert "refused" in exc.message


@pytest.mark.parametrize(
    "response",
    [
        httpx2.Response(200, content=b"{not json", headers={"content-type": "application/json"}),
        httpx2.Response(200, content=b"<html>captive portal</html>",
                        headers={"content-type": "text/html"}),
        httpx2.Response(200, json=[1, 2, 3]),
        httpx2.Response(200, json={}),
        httpx2.Response(200, json={"choices": [{"message": "hola"}]}),
    ],
    ids=["broken-json", "html", "json-list", "empty-object", "message-not-object"],
)
async def test_unreadable_200_is_invalid_response_and_not_retried(
    server: ScriptedOpenAI, model: OpenAIChatModel, response: httpx2.Response
) -> None:
    server.then(response)
    exc = await failure(model)
    assert exc.kind is ModelErrorKind.INVALID_RESPONSE
    assert len(server.requests) == 1


async def test_malformed_conversation_fails_before_any_request(
    server: ScriptedOpenAI, model: OpenAIChatModel
) -> None:
    for bad in (ChatMessage("tool", "{}"), ChatMessage("robot", "hi")):
        with pytest.raises(ModelError) as caught:
            await model.complete([ChatMessage("user", "hola"), bad])
        assert caught.value.kind is ModelErrorKind.BAD_REQUEST
    assert server.requests == []


# -- privacy, lifecycle, construction -----------------------------------------------


async def test_repr_hides_the_key() -> None:
    async with OpenAIChatModel(api_key=KEY, base_url="https://user:pw@llm.test/v1/") as llm:
        text = repr(llm) + str(llm)
        assert KEY not in text and KEY[:8] not in text
        assert "pw" not in text
        assert "gpt-4o-mini" in text and "llm.test" in text


async def test_logs_hold_counts_not_contents_nor_key(
    server: ScriptedOpenAI, model: OpenAIChatModel, caplog: pytest.LogCaptureFixture
) -> None:
    server.then(error(500, "boom"),
                completion(SECRET_TEXT, usage=(11, 22, 0)))
    with caplog.at_level(logging.DEBUG):
        await model.complete([ChatMessage("user", SECRET_TEXT)], tools=SPECS,
                             safety_identifier="hash-1")
    ours = [r for r in caplog.records if r.name.startswith("eki.")]
    assert any("prompt=11" in r.getMessage() and "completion=22" in r.getMessage()
               and "latency_ms=" in r.getMessage() for r in ours)
    everything = "\n".join(r.getMessage() for r in caplog.records)  # the SDK's too
    assert SECRET_TEXT not in everything
    assert KEY not in everything and KEY[:8] not in everything
    assert "mis_notas" not in everything


async def test_aclose_closes_only_the_client_it_created() -> None:
    shared = httpx2.AsyncClient(transport=httpx2.MockTransport(ScriptedOpenAI().handle))
    try:
        llm = OpenAIChatModel(api_key=KEY, http_client=shared)
        await llm.complete([ChatMessage("user", "hola")])
        await llm.aclose()
        assert not shared.is_closed
    finally:
        await shared.aclose()

    own = OpenAIChatModel(api_key=KEY)
    client = own._client
    assert not client.is_closed()
    await own.aclose()
    assert client.is_closed()


async def test_without_a_client_the_sdk_uses_its_aiohttp_transport() -> None:
    """openai[aiohttp] is a dependency: the SDK's documented transport for many calls."""
    llm = OpenAIChatModel(api_key=KEY)
    try:
        assert len(llm._clients) == 1
        assert isinstance(llm._client._client, openai.DefaultAioHttpClient)
    finally:
        await llm.aclose()


def test_constructor_validates() -> None:
    for kwargs in ({"api_key": ""}, {"api_key": "  "}, {"api_key": KEY, "max_attempts": 0},
                   {"api_key": KEY, "timeout": 0}, {"api_key": KEY, "model": ""}):
        with pytest.raises(ValueError, match=r"must|required"):
            OpenAIChatModel(**kwargs)


async def test_implements_the_port() -> None:
    async with OpenAIChatModel(api_key=KEY, model="gpt-4.1-nano") as llm:
        port: LanguageModel = llm
        assert port.model == "gpt-4.1-nano"


def test_message_conversion_is_plain_json() -> None:
    converted = to_openai_messages([
        ChatMessage("system", "s"),
        ChatMessage("assistant", None),
        ChatMessage("assistant", "pensando", tool_calls=(ToolCall("c1", "f", "{}"),)),
        ChatMessage("tool", None, tool_call_id="c1"),
    ])
    assert json.loads(json.dumps(converted)) == [
        {"role": "system", "content": "s"},
        {"role": "assistant", "content": ""},
        {"role": "assistant", "content": "pensando", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": ""},
    ]
