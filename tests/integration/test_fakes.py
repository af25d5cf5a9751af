"""The shipped fakes (eki_testing) inject what they promise: 5xx, 429, permanent
codes, latency, dropped connections and script exhaustion — seen through EKI's real
clients (MetaCloudChannel, OpenAIChatModel over real HTTP) and through raw httpx2."""

from __future__ import annotations

import asyncio
import time

import httpx2
import pytest

from eki_adapters.openai import OpenAIChatModel
from eki_adapters.whatsapp import MetaCloudChannel
from eki_domain.errors import DeliveryError
from eki_domain.ports.llm import ChatMessage, ModelError, ModelErrorKind, ToolSpec
from eki_testing.graph import (
    DROP,
    FakeGraphAPI,
    Reply,
    permanent,
    rate_limited,
    server_error,
    slow,
)
from eki_testing.openai import (
    FakeOpenAIServer,
    answer,
    error,
    quota_error,
    tool_calls,
)

TO = "573001234567"
HELLO = [ChatMessage("user", "hola")]


def channel(graph: FakeGraphAPI, **kwargs: object) -> MetaCloudChannel:
    options: dict[str, object] = {"backoff_initial": 0.01, "backoff_max": 0.02, "timeout": 2.0}
    options.update(kwargs)
    return MetaCloudChannel(graph.url, "1234", "token", **options)  # type: ignore[arg-type]


# -- Graph API ---------------------------------------------------------------------------


async def test_graph_unscripted_requests_succeed_and_are_recorded(graph: FakeGraphAPI) -> None:
    async with channel(graph) as ch:
        receipt = await ch.send_text(TO, "Hola Ana")
        await ch.mark_read("wamid.IN")
    assert receipt.provider_id == "wamid.OK1"
    assert graph.texts_to(TO) == ["Hola Ana"] and graph.texts_to("570000000000") == []
    assert graph.read_receipts() == ["wamid.IN"]
    assert graph.unscripted == 2 and graph.pending == 0
    assert graph.requests[0].path == "/v25.0/1234/messages"
    assert graph.requests[0].headers["authorization"] == "Bearer token"


async def test_graph_5xx_and_429_are_served_in_order_then_success(graph: FakeGraphAPI) -> None:
    graph.then(server_error(503), rate_limited(retry_after=0), server_error())
    async with channel(graph, max_attempts=4) as ch:
        receipt = await ch.send_text(TO, "hola")
    assert len(graph.requests) == 4 and receipt.provider_id == "wamid.OK4"
    assert graph.pending == 0 and graph.unscripted == 1


async def test_graph_permanent_code_reaches_the_channel_unretried(graph: FakeGraphAPI) -> None:
    graph.then(permanent(131047))
    async with channel(graph) as ch:
        with pytest.raises(DeliveryError) as caught:
            await ch.send_text(TO, "hola")
    assert caught.value.code == "131047" and caught.value.permanent
    assert len(graph.requests) == 1


async def test_graph_latency_causes_a_client_timeout(graph: FakeGraphAPI) -> None:
    graph.then(slow(0.5), Reply())
    async with channel(graph, timeout=0.1, max_attempts=2) as ch:
        started = time.monotonic()
        receipt = await ch.send_text(TO, "hola")
    assert receipt.provider_id == "wamid.OK2"
    assert time.monotonic() - started >= 0.1
    assert len(graph.requests) == 2


async def test_graph_dropped_connection_is_a_network_failure(graph: FakeGraphAPI) -> None:
    graph.then(DROP, DROP)
    async with channel(graph, max_attempts=2) as ch:
        with pytest.raises(DeliveryError) as caught:
            await ch.send_text(TO, "hola")
    assert (caught.value.code, caught.value.permanent) == ("NETWORK", False)


def test_graph_scripts_callables_and_waits_with_a_clear_failure() -> None:
    with FakeGraphAPI(lambda request: Reply(418, {"seen": request.path})) as graph:
        reply = httpx2.post(graph.url + "/x/messages", json={"to": TO, "type": "text"})
        assert reply.status_code == 418 and reply.json() == {"seen": "/v25.0/x/messages"}
        assert len(graph.wait_for(lambda seen: len(seen) == 1, timeout=1)) == 1
        with pytest.raises(AssertionError, match=r"did not arrive within 0.1s.*1 request"):
            graph.wait_for(lambda seen: len(seen) == 2, timeout=0.1, what="a second send")
    with pytest.raises(RuntimeError, match="not started"):
        _ = graph.url


# -- OpenAI-compatible server --------------------------------------------------------------


def model(server: FakeOpenAIServer, **kwargs: object) -> OpenAIChatModel:
    options: dict[str, object] = {"backoff_initial": 0.01, "backoff_max": 0.02}
    options.update(kwargs)
    return OpenAIChatModel(api_key="sk-test", base_url=server.url, **options)  # type: ignore[arg-type]


async def test_openai_follows_the_script_and_records_requests() -> None:
    with FakeOpenAIServer(tool_calls(("get_my_progress", {"course": "mate"})),
                          answer("Vas bien")) as server:
        async with model(server) as llm:
            first = await llm.complete(HELLO, tools=[ToolSpec(
                "get_my_progress", "", {"type": "object"}, strict=False)])
            second = await llm.complete(HELLO)
    assert [c.name for c in first.tool_calls] == ["get_my_progress"]
    assert first.tool_calls[0].arguments == '{"course": "mate"}'
    assert second.content == "Vas bien"
    assert [b["messages"][0]["content"] for b in server.bodies] == ["hola", "hola"]
    assert server.requests[0].headers["authorization"] == "Bearer sk-test"
    assert server.requests[0].path == "/v1/chat/completions"


async def test_openai_5xx_and_429_are_retried_then_answered() -> None:
    with FakeOpenAIServer(error(500, "boom"), error(429, "slow down",
                                                    headers={"retry-after-ms": "1"}),
                          error(503, "unavailable"), answer("por fin")) as server:
        async with model(server, max_attempts=4) as llm:
            reply = await llm.complete(HELLO)
    assert reply.content == "por fin" and len(server.requests) == 4


async def test_openai_permanent_errors_are_not_retried() -> None:
    with FakeOpenAIServer(quota_error(), error(401, "bad key")) as server:
        async with model(server) as llm:
            with pytest.raises(ModelError) as quota:
                await llm.complete(HELLO)
            with pytest.raises(ModelError) as auth:
                await llm.complete(HELLO)
    assert quota.value.kind is ModelErrorKind.QUOTA
    assert auth.value.kind is ModelErrorKind.AUTH
    assert len(server.requests) == 2


async def test_openai_latency_times_out() -> None:
    with FakeOpenAIServer(Reply(delay=0.6, body=answer("tarde")), answer("a tiempo")) as server:
        async with model(server, timeout=0.2, max_attempts=2) as llm:
            reply = await llm.complete(HELLO)
    assert reply.content == "a tiempo" and len(server.requests) == 2


async def test_openai_script_exhaustion_fails_loudly_unless_a_default_is_given() -> None:
    with FakeOpenAIServer(answer("única")) as server:
        async with model(server, max_attempts=2) as llm:
            assert (await llm.complete(HELLO)).content == "única"
            with pytest.raises(ModelError) as caught:
                await llm.complete(HELLO)
    assert caught.value.kind is ModelErrorKind.SERVER
    assert server.unscripted == 2
    with FakeOpenAIServer(default=answer("siempre")) as server:
        raw = httpx2.post(server.url + "/chat/completions", json={"messages": []})
        assert raw.json()["choices"][0]["message"]["content"] == "siempre"
    with FakeOpenAIServer() as server:
        raw = httpx2.post(server.url + "/chat/completions", json={"messages": []})
        assert raw.status_code == 500
        assert raw.json()["error"]["code"] == "script_exhausted"
        assert httpx2.get(server.url + "/models").status_code == 404


async def test_openai_dropped_connection_is_a_network_error() -> None:
    with FakeOpenAIServer(DROP, DROP) as server:
        async with model(server, max_attempts=2) as llm:
            with pytest.raises(ModelError) as caught:
                await llm.complete(HELLO)
    assert caught.value.kind is ModelErrorKind.NETWORK
    assert len(server.requests) == 2


async def test_openai_model_spreads_calls_over_its_connection_pools() -> None:
    with FakeOpenAIServer(default=answer("ok")) as server:
        async with model(server, pool_shards=3, aiohttp=False) as llm:
            replies = await asyncio.gather(*(llm.complete(HELLO) for _ in range(6)))
    assert [r.content for r in replies] == ["ok"] * 6
    assert len(server.bodies) == 6
    with pytest.raises(ValueError, match="pool_shards"):
        OpenAIChatModel(api_key="sk-test", pool_shards=0)
