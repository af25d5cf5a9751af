"""OpenAI Chat Completions (or any compatible server) as a :class:`LanguageModel`.

The SDK's own retries are off (``max_retries=0``); tenacity retries only what can succeed
later: timeouts (and HTTP 408), connection errors, HTTP 5xx and HTTP 429 that is not
``insufficient_quota``. ``Retry-After`` / ``retry-after-ms`` are honoured, capped at
``backoff_max``. Everything else (400/401/403/404/409/422, exhausted quota, a reply the SDK
cannot parse or that has neither text nor tool calls) is raised at once as a
:class:`~eki_domain.ports.llm.ModelError`.

Every request sends ``store=False``: student data must not be kept for distillation/evals.
Nothing here logs message contents or the API key; the success log (DEBUG) carries counts
and latency only, failure logs the error kind and HTTP status only.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx2
import openai
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionAssistantMessageParam,
    ChatCompletionDeveloperMessageParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionToolMessageParam,
    ChatCompletionUserMessageParam,
)
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from eki_adapters.http_client import aiohttp_available, sdk_client
from eki_adapters.http_retry import header_retry_after
from eki_domain.ports.llm import (
    ChatMessage,
    ModelError,
    ModelErrorKind,
    ModelReply,
    ModelUsage,
    ToolCall,
)

if TYPE_CHECKING:
    from eki_domain.ports.llm import ToolSpec

logger = logging.getLogger("eki.llm.openai")

DEFAULT_MODEL = "gpt-4o-mini"

#: Error ``code``/``type`` OpenAI sends with a 429 when the account has no credit left.
QUOTA_CODE = "insufficient_quota"

_KEY_PATTERN = re.compile(r"\b(sk-[A-Za-z0-9_\-*.]{4,}|Bearer\s+\S+)")
_MAX_DETAIL_CHARS = 300


class OpenAIChatModel:
    """``chat.completions.create`` behind the :class:`~eki_domain.ports.llm.LanguageModel` port.

    Pass ``http_client`` to share an ``httpx2.AsyncClient`` (then the caller closes it).
    Otherwise, when aiohttp is installed (``openai[aiohttp]``, one of EKI's dependencies),
    the SDK's documented aiohttp transport carries the calls (``eki_adapters.http_client``):
    it costs half the CPU per call of the default transport with hundreds of calls in
    flight (0.9 vs 1.9 ms per call, 500 at once). Without aiohttp (or with
    ``aiohttp=False``) the SDK's default client is used, as ``pool_shards`` clients taken in
    turn: its connection pool re-examines every connection it holds twice per request, so
    one pool serving hundreds of concurrent calls spends its time scanning itself.
    :meth:`aclose` closes what was created here.
    """

    def __init__(
        self,
        *,
        api_key: str,
        model: str = DEFAULT_MODEL,
        base_url: str | None = None,
        timeout: float = 15.0,
        max_attempts: int = 3,
        backoff_initial: float = 0.5,
        backoff_max: float = 4.0,
        http_client: httpx2.AsyncClient | None = None,
        pool_shards: int = 16,
        aiohttp: bool | None = None,
    ) -> None:
        if not api_key or not api_key.strip():
            raise ValueError("api_key is required")
        if not model or not model.strip():
            raise ValueError("model is required")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if backoff_initial < 0 or backoff_max < 0:
            raise ValueError("backoffs must not be negative")
        if pool_shards < 1:
            raise ValueError("pool_shards must be at least 1")
        self._model = model
        self._max_attempts = max_attempts
        self._backoff_max = backoff_max
        # backoff_initial * 2**(n-1) plus up to a quarter of it as jitter, capped in _wait.
        self._backoff = wait_exponential(multiplier=backoff_initial, max=backoff_max) + wait_random(
            0, backoff_initial / 4
        )
        self._owns_client = http_client is None
        if http_client is None and (aiohttp_available() if aiohttp is None else aiohttp):
            http_client = sdk_client(timeout)
        # base_url=None lets the SDK read OPENAI_BASE_URL, then use api.openai.com.
        self._clients = [
            openai.AsyncOpenAI(
                api_key=api_key,
                base_url=base_url,
                timeout=timeout,
                max_retries=0,
                http_client=http_client,
            )
            for _ in range(1 if http_client is not None else pool_shards)
        ]
        self._client = self._clients[0]
        self._next_client = itertools.cycle(self._clients)

    @property
    def model(self) -> str:
        return self._model

    @property
    def base_url(self) -> str:
        """The API root in use, without any user-info part."""
        return str(self._client.base_url.copy_with(username=None, password=None))

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIChatModel(model={self._model!r}, base_url={self.base_url!r})"

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] | None = None,
        tool_choice: str | None = None,
        safety_identifier: str | None = None,
        max_output_tokens: int | None = None,
    ) -> ModelReply:
        body: dict[str, Any] = {
            "model": self._model,
            "messages": to_openai_messages(messages),
            "store": False,
        }
        if tools:
            body["tools"] = [chat_completions_tool(tool) for tool in tools]
            if tool_choice is not None:
                body["tool_choice"] = tool_choice
        if safety_identifier is not None:
            body["safety_identifier"] = safety_identifier
        if max_output_tokens is not None:
            body["max_completion_tokens"] = max_output_tokens

        async def attempt() -> ChatCompletion:
            # The SDK's documented low-level ``post`` with the same typed result as
            # ``chat.completions.create``, minus its request-parameter transform, which cost
            # ~1 ms of CPU per call for our already wire-shaped body (bench/bench_llm.py).
            response = await next(self._next_client).post(
                "/chat/completions", body=body, cast_to=ChatCompletion)
            # The SDK hands back whatever a non-JSON 200 contained (a str, a list...).
            if not isinstance(response, ChatCompletion):
                raise ModelError(
                    "The model server answered with something that is not a chat completion.",
                    kind=ModelErrorKind.INVALID_RESPONSE,
                    status=200,
                )
            return response

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=retry_if_exception(is_retryable),
            before_sleep=self._log_retry,
            reraise=True,
        )
        started = time.perf_counter()
        try:
            response: ChatCompletion = await retrying(attempt)
            reply = _reply_from(response, self._model, started)
        except ModelError as exc:
            self._log_failure(exc, retrying)
            raise
        except (openai.OpenAIError, httpx2.HTTPError, ValueError) as exc:
            error = to_model_error(exc)
            self._log_failure(error, retrying)
            raise error from exc
        logger.debug(
            "completion ok: messages=%d tools=%d tool_calls=%d prompt=%d completion=%d "
            "cached=%d latency_ms=%d attempts=%d finish=%s",
            len(messages), len(tools or ()), len(reply.tool_calls), reply.usage.prompt_tokens,
            reply.usage.completion_tokens, reply.usage.cached_tokens, reply.latency_ms,
            retrying.statistics.get("attempt_number", 1), reply.finish_reason,
        )
        return reply

    async def aclose(self) -> None:
        """Close the HTTP client the SDK created; a client passed in is the caller's."""
        if self._owns_client:
            for client in self._clients:
                await client.close()

    async def __aenter__(self) -> OpenAIChatModel:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- internals ------------------------------------------------------------------

    def _wait(self, state: RetryCallState) -> float:
        """The server's Retry-After when it sent one, else exponential backoff; both capped."""
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, openai.APIStatusError):
            retry_after = retry_after_seconds(exc.response.headers)
            if retry_after is not None:
                return min(retry_after, self._backoff_max)
        return min(float(self._backoff(state)), self._backoff_max)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        error = to_model_error(exc) if isinstance(exc, Exception) else None
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        logger.warning(
            "model call failed (kind=%s status=%s), attempt %d/%d, retrying in %.2fs",
            error.kind if error else type(exc).__name__, error.status if error else None,
            state.attempt_number, self._max_attempts, delay,
        )

    def _log_failure(self, error: ModelError, retrying: AsyncRetrying) -> None:
        logger.warning(
            "model call gave up: kind=%s status=%s attempts=%d",
            error.kind, error.status, retrying.statistics.get("attempt_number", 1),
        )


# -- messages -----------------------------------------------------------------------


def chat_completions_tool(spec: ToolSpec) -> dict[str, Any]:
    """A tool spec as a Chat Completions ``tools=[...]`` item (a function tool)."""
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": spec.description,
            "strict": spec.strict,
            "parameters": dict(spec.parameters),
        },
    }


def to_openai_messages(messages: Sequence[ChatMessage]) -> list[ChatCompletionMessageParam]:
    """The Chat Completions ``messages`` array for a conversation."""
    return [_to_openai_message(message, index) for index, message in enumerate(messages)]


def _to_openai_message(message: ChatMessage, index: int) -> ChatCompletionMessageParam:
    role = message.role
    if role == "system":
        return ChatCompletionSystemMessageParam(role="system", content=message.content or "")
    if role == "developer":
        return ChatCompletionDeveloperMessageParam(role="developer", content=message.content or "")
    if role == "user":
        return ChatCompletionUserMessageParam(role="user", content=message.content or "")
    if role == "assistant":
        assistant = ChatCompletionAssistantMessageParam(role="assistant", content=message.content)
        if message.tool_calls:
            assistant["tool_calls"] = [
                ChatCompletionMessageFunctionToolCallParam(
                    id=call.id,
                    type="function",
                    function={"name": call.name, "arguments": call.arguments},
                )
                for call in message.tool_calls
            ]
        elif message.content is None:
            assistant["content"] = ""
        return assistant
    if role == "tool":
        if not message.tool_call_id:
            raise ModelError(
                f"Message {index} has role 'tool' but no tool_call_id.",
                kind=ModelErrorKind.BAD_REQUEST,
            )
        return ChatCompletionToolMessageParam(
            role="tool", tool_call_id=message.tool_call_id, content=message.content or ""
        )
    raise ModelError(f"Message {index} has an unknown role {role!r}.",
                     kind=ModelErrorKind.BAD_REQUEST)


# -- replies ------------------------------------------------------------------------


def _reply_from(response: ChatCompletion, configured_model: str, started: float) -> ModelReply:
    latency_ms = round((time.perf_counter() - started) * 1000)
    # The SDK parses without validation: on a compatible server any field may be missing or
    # of the wrong type, hence the getattr/isinstance checks below.
    choices = response.choices
    choice = choices[0] if isinstance(choices, list) and choices else None
    message = getattr(choice, "message", None)
    if choice is None or message is None or isinstance(message, str | bytes):
        raise ModelError("The model returned no choice.", kind=ModelErrorKind.INVALID_RESPONSE,
                         status=200)
    content = getattr(message, "content", None)
    if not isinstance(content, str) or not content.strip():
        content = None
    raw_calls = getattr(message, "tool_calls", None)
    calls = _tool_calls(raw_calls) if isinstance(raw_calls, list) else ()
    finish_reason = getattr(choice, "finish_reason", None)
    finish_reason = finish_reason if isinstance(finish_reason, str) else None
    if content is None and not calls:
        refused = isinstance(getattr(message, "refusal", None), str)
        why = "refused to answer" if refused else "returned neither text nor tool calls"
        raise ModelError(
            f"The model {why} (finish_reason={finish_reason}).",
            kind=ModelErrorKind.INVALID_RESPONSE,
            status=200,
        )
    model = response.model
    return ModelReply(
        content=content,
        tool_calls=calls,
        usage=_usage(response),
        model=model if isinstance(model, str) and model else configured_model,
        latency_ms=latency_ms,
        finish_reason=finish_reason,
    )


def _tool_calls(raw: Sequence[object]) -> tuple[ToolCall, ...]:
    """Function tool calls with their raw argument text; anything else is dropped."""
    calls: list[ToolCall] = []
    for index, call in enumerate(raw):
        function = getattr(call, "function", None)
        name = getattr(function, "name", None)
        if not isinstance(name, str) or not name:
            continue
        arguments = getattr(function, "arguments", None)
        if arguments is None:
            arguments = ""
        elif not isinstance(arguments, str):  # some compatible servers send an object
            arguments = json.dumps(arguments, ensure_ascii=False)
        call_id = getattr(call, "id", None)
        if not isinstance(call_id, str) or not call_id:
            call_id = f"call_{index}"
        calls.append(ToolCall(id=call_id, name=name, arguments=arguments))
    return tuple(calls)


def _usage(response: ChatCompletion) -> ModelUsage:
    usage = response.usage
    details = getattr(usage, "prompt_tokens_details", None)
    return ModelUsage(
        prompt_tokens=_count(getattr(usage, "prompt_tokens", None)),
        completion_tokens=_count(getattr(usage, "completion_tokens", None)),
        cached_tokens=_count(getattr(details, "cached_tokens", None)),
    )


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


# -- errors -------------------------------------------------------------------------


def is_quota_error(exc: BaseException) -> bool:
    return isinstance(exc, openai.APIStatusError) and QUOTA_CODE in (exc.code, exc.type)


def is_retryable(exc: BaseException) -> bool:
    """Timeouts, connection errors, 408, 5xx and 429 except ``insufficient_quota``."""
    if isinstance(exc, openai.APIConnectionError):  # APITimeoutError included
        return True
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status == 429:
            return not is_quota_error(exc)
        return status == 408 or status >= 500
    return False


def to_model_error(exc: BaseException) -> ModelError:
    """A :class:`ModelError` with an English message that never holds the key or contents."""
    if isinstance(exc, ModelError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return ModelError("The model did not answer in time.", kind=ModelErrorKind.TIMEOUT)
    if isinstance(exc, openai.APIConnectionError):
        return ModelError(f"Could not reach the model server ({_cause_name(exc)}).",
                          kind=ModelErrorKind.NETWORK)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        code = exc.code or exc.type
        label = f"HTTP {status}" + (f", {code}" if code else "")
        if status == 429 and is_quota_error(exc):
            return ModelError(f"The model account has no quota left ({label}).",
                              kind=ModelErrorKind.QUOTA, status=status)
        if status == 429:
            return ModelError(f"The model server is rate limiting us ({label}).",
                              kind=ModelErrorKind.RATE_LIMITED, status=status)
        if status == 408:
            return ModelError(f"The model server timed out ({label}).",
                              kind=ModelErrorKind.TIMEOUT, status=status)
        if status >= 500:
            return ModelError(f"The model server failed ({label}).",
                              kind=ModelErrorKind.SERVER, status=status)
        if status in (401, 403):
            return ModelError(f"The model server rejected the credentials ({label}).",
                              kind=ModelErrorKind.AUTH, status=status)
        detail = _safe_detail(exc)
        return ModelError(
            f"The model server rejected the request ({label})" + (f": {detail}" if detail else "."),
            kind=ModelErrorKind.BAD_REQUEST,
            status=status,
        )
    if isinstance(exc, openai.APIResponseValidationError):
        return ModelError("The model server's reply does not match the API schema.",
                          kind=ModelErrorKind.INVALID_RESPONSE, status=exc.status_code)
    if isinstance(exc, httpx2.HTTPError):
        return ModelError(f"Could not reach the model server ({type(exc).__name__}).",
                          kind=ModelErrorKind.NETWORK)
    # json.JSONDecodeError and other ValueErrors from a 200 the SDK could not parse.
    return ModelError(f"The model server's reply could not be read ({type(exc).__name__}).",
                      kind=ModelErrorKind.INVALID_RESPONSE)


def _cause_name(exc: BaseException) -> str:
    cause = exc.__cause__
    return type(cause).__name__ if cause is not None else type(exc).__name__


def _safe_detail(exc: openai.APIStatusError) -> str:
    """The server's error message for a rejected request, keys masked, shortened."""
    body = exc.body
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message.strip():
        return ""
    message = _KEY_PATTERN.sub("***", " ".join(message.split()))
    if len(message) > _MAX_DETAIL_CHARS:
        message = message[: _MAX_DETAIL_CHARS - 1] + "…"
    return message


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            seconds = float(millis.strip()) / 1000.0
        except ValueError:
            pass
        else:
            return max(seconds, 0.0) if math.isfinite(seconds) else None
    return header_retry_after(lowered.get("retry-after"))
