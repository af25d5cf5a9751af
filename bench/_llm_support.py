"""Helper processes for bench/bench_llm.py (each runs in its own interpreter).

    python bench/_llm_support.py fake-openai --port P --delay 1.5 [--model M]
                                             [--calls-per-answer 1|2]
    python bench/_llm_support.py eki-traced-llm OUT.json -- serve ...

* ``fake-openai``: a local OpenAI-compatible Chat Completions server on the minimal asyncio
  server of bench/_light_http.py (uvloop; a light process whose CPU the bench prints).
  ``POST /v1/chat/completions`` waits ``--delay`` seconds (``asyncio.sleep``: any number are
  served at once), then answers. ``--calls-per-answer 1`` (default): the final Spanish text at
  once — one call per answer. ``2``: like a model doing a progress question: when the
  conversation has no ``tool`` message yet, one call to ``get_my_progress`` whose arguments are
  taken from the request's own strict schema (every ``required`` property, ``null``); once
  the tool result is there, a short Spanish answer built from it. ``usage`` is computed from
  the request (see :func:`token_counter`). For every request it remembers the arrival and
  answer times (CLOCK_MONOTONIC, comparable with the other helpers), the
  ``safety_identifier``, the exact size of the body and how the prompt splits into the fixed
  system prompt, the tool schemas and the variable rest (context line, history, the user's
  message, the tool exchange). ``GET /_stats``, ``GET /_dump``, ``POST /_reset``.
* ``eki-traced-llm``: ``_pipeline_support.py eki-traced`` (the pipeline's stage timers, SQL
  counts and event-loop lag) plus timers around the assistant's own steps (budget check,
  history read, usage ledger writes, model calls through the SDK, the progress tool); the
  extra timings go to ``OUT.llm.json``. Monkeypatched in that process only.

Every loop is bounded in count and in time. All sockets are on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
TOOL = "get_my_progress"
COMPACT = (",", ":")


# -- token counting ---------------------------------------------------------------------------


def encoding_counter(encoding: Any) -> Callable[[str], int]:
    return lambda text: len(encoding.encode(text))


def token_counter(extra_path: str | None = None) -> tuple[Callable[[str], int], str]:
    """(count, how): gpt-4o-mini's encoding (o200k_base) from tiktoken, or from bpe_openai
    (its tables are built in, so it works offline) when one of them is importable, with
    ``extra_path`` added to sys.path first; otherwise one token per 4 characters, rounded up.
    (tiktoken itself downloads its tables on first use: offline, it falls back too.)"""
    if extra_path:
        sys.path.insert(0, extra_path)
    reasons = []
    for module in ("tiktoken", "bpe_openai"):
        try:
            encoding = __import__(module).get_encoding("o200k_base")
            encoding.encode("prueba")
        except Exception as exc:  # not installed, or tables that cannot be fetched offline
            why = "not installed" if isinstance(exc, ImportError) else type(exc).__name__
            reasons.append(f"{module} {why}")
            continue
        return encoding_counter(encoding), f"{module} o200k_base (exact)"

    def estimate(text: str) -> int:
        return math.ceil(len(text) / 4)

    return estimate, f"estimate: len(text)/4 ({', '.join(reasons)})"


def dumps(value: object) -> str:
    """JSON as the model reads it: compact, non-ASCII characters kept."""
    return json.dumps(value, ensure_ascii=False, separators=COMPACT)


# -- the prompt, split in parts ---------------------------------------------------------------


PARTS = ("fixed_system", "context", "history", "user", "tool_exchange")


def split_prompt(messages: list[dict[str, Any]], fixed_prompt: str
                 ) -> tuple[dict[str, list[dict[str, Any]]], bool]:
    """The chat's messages by part: ``fixed_system`` (the first system message, the fixed
    prompt), ``context`` (other system/developer messages: the student's first name and
    today's date), ``history`` (earlier user/assistant texts), ``user`` (the current message:
    the last user message) and ``tool_exchange`` (the assistant's tool calls and the tool
    results after it); and whether the first system message is ``fixed_prompt``."""
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    parts: dict[str, list[dict[str, Any]]] = {part: [] for part in PARTS}
    fixed_matches = False
    for index, message in enumerate(messages):
        role = message.get("role")
        if index == 0 and role == "system":
            parts["fixed_system"].append(message)
            fixed_matches = message.get("content") == fixed_prompt
        elif role in ("system", "developer"):
            parts["context"].append(message)
        elif index == last_user:
            parts["user"].append(message)
        elif index < last_user:
            parts["history"].append(message)
        else:
            parts["tool_exchange"].append(message)
    return parts, fixed_matches


def message_tokens(messages: list[dict[str, Any]], count: Callable[[str], int]) -> int:
    """Tokens of the text the model reads, as OpenAI's cookbook counts chat messages: 3 per
    message for the framing, plus role, content, and each tool call's name and arguments."""
    total = 0
    for message in messages:
        total += 3 + count(str(message.get("role") or ""))
        content = message.get("content")
        if isinstance(content, str):
            total += count(content)
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            total += 3 + count(str(function.get("name") or "")) + count(
                str(function.get("arguments") or ""))
    return total


# -- the answers ------------------------------------------------------------------------------


def _decimal(value: object) -> str:
    return f"{value:.1f}".replace(".", ",") if isinstance(value, int | float) else "?"


def _first_name(messages: list[dict[str, Any]]) -> str:
    for message in messages[1:]:
        content = message.get("content")
        if message.get("role") == "system" and isinstance(content, str) and \
                content.startswith("Estudiante: "):
            return content[len("Estudiante: "):].split(".", 1)[0].strip() or "hola"
    return "hola"


def final_text(messages: list[dict[str, Any]], tool_result: str) -> str:
    """A short WhatsApp-style Spanish answer made from the tool result (as a model would)."""
    name = _first_name(messages)
    try:
        data = json.loads(tool_result)
    except ValueError:
        data = None
    courses = data.get("courses") if isinstance(data, dict) else None
    if not courses:
        return (f"¡Hola, {name}! Por ahora no tengo ese dato 🙏. Pregúntale a tu profe o a la "
                "secretaría.")
    passing = sum(1 for c in courses if c.get("passing"))
    lowest = min(courses, key=lambda c: c.get("average") if isinstance(
        c.get("average"), int | float) else 99)
    return (f"¡Hola, {name}! Tu promedio general va en *{_decimal(data.get('overall_average'))}*."
            f"\n• Vas ganando *{passing} de {len(courses)}* materias."
            f"\n• La más floja: *{lowest.get('course')}* con {_decimal(lowest.get('average'))}."
            "\n¿Quieres el detalle de alguna materia?")


def tool_arguments(tools: list[dict[str, Any]]) -> tuple[str | None, bool]:
    """The arguments for ``get_my_progress`` from the request's own schema: every required
    property null. (arguments JSON or None when the tool is missing, schema as expected)."""
    for tool in tools:
        function = tool.get("function") or {}
        if function.get("name") != TOOL:
            continue
        parameters = function.get("parameters") or {}
        required = list(parameters.get("required") or [])
        properties = parameters.get("properties") or {}
        expected = (function.get("strict") is True and sorted(required) == ["course", "period"]
                    and set(properties) == set(required)
                    and parameters.get("additionalProperties") is False
                    and all("null" in (properties[k].get("type") or []) for k in required))
        return json.dumps(dict.fromkeys(required)), expected
    return None, False


# -- fake OpenAI server -----------------------------------------------------------------------


def run_fake_openai(port: int, delay: float, model: str, tokenizer_path: str | None,
                    calls_per_answer: int = 1) -> None:
    """The fake model on the minimal asyncio server (bench/_light_http.py). With
    ``calls_per_answer`` 1 it answers every request with the final text at once (one call per
    answer); with 2 the first call of a turn asks for ``get_my_progress`` and the second,
    carrying the tool result, gets the text."""
    from _light_http import dumps as wire
    from _light_http import serve
    from eki_domain.services.llm_assistant import SYSTEM_PROMPT
    from eki_testing.openai import completion

    count, how = token_counter(tokenizer_path)
    records: list[dict[str, Any]] = []
    counters: Counter[str] = Counter()
    state: dict[str, Any] = {"in_flight": 0, "max_in_flight": 0, "seq": 0, "example": None}

    async def chat(raw: bytes) -> tuple[int, bytes]:
        arrived = time.monotonic()
        state["in_flight"] += 1
        state["max_in_flight"] = max(state["max_in_flight"], state["in_flight"])
        try:
            body = json.loads(raw)
            messages = list(body["messages"])
            tools = list(body.get("tools") or [])
        except (ValueError, KeyError, TypeError):
            counters["bad_request"] += 1
            state["in_flight"] -= 1
            return 400, wire({"error": {"message": "bad request", "type":
                                        "invalid_request_error", "param": None,
                                        "code": None}})
        try:
            await asyncio.sleep(delay)
        finally:
            state["in_flight"] -= 1
        state["seq"] += 1
        seq = state["seq"]
        tool_messages = [m for m in messages if m.get("role") == "tool"]
        # Only what the answer needs here; the prompt is split and counted at /_dump time,
        # outside the measured window (the fake must not compete with EKI for the CPU).
        record: dict[str, Any] = {
            "t_in": arrived, "sid": body.get("safety_identifier"), "body_bytes": len(raw),
            "tool_choice": body.get("tool_choice"), "store": body.get("store"),
            "_body": body,
        }
        if calls_per_answer == 2 and not tool_messages and body.get("tool_choice") != "none":
            arguments, schema_ok = tool_arguments(tools)
            if arguments is None:
                counters["no_progress_tool"] += 1
                content, calls = "No tengo esa herramienta.", []
            else:
                content, calls = None, [(f"call_{seq}", TOOL, arguments)]
            record["kind"] = "tool_call"
            record["schema_ok"] = schema_ok
            out_text = arguments or content or ""
        else:
            issued = next((m for m in reversed(messages) if m.get("role") == "assistant"
                           and m.get("tool_calls")), None)
            ids = {c.get("id") for c in (issued or {}).get("tool_calls") or []}
            record["tool_ids_match"] = not tool_messages or (bool(ids) and all(
                m.get("tool_call_id") in ids for m in tool_messages))
            content = final_text(messages, str(tool_messages[-1].get("content") or "")
                                 if tool_messages else "")
            calls = []
            record["kind"] = "final"
            out_text = content
            if state["example"] is None:  # one whole request, to show what is sent
                state["example"] = {k: v for k, v in body.items() if k != "tools"}
        # ≈ tokens of the JSON of messages + tools, counted per message (and the tool list)
        # with the big constant strings (system prompt, schemas) counted once and cached
        prompt_tokens = 2 + cached_count(dumps(tools)) + sum(cached_count(dumps(m))
                                                             for m in messages)
        completion_tokens = count(out_text) + (10 if calls else 0)
        record["prompt_tokens"] = prompt_tokens
        record["completion_tokens"] = completion_tokens
        counters[record["kind"]] += 1
        response = completion(content, calls, usage=(prompt_tokens, completion_tokens, 0),
                              model=model, completion_id=f"chatcmpl-bench{seq}")
        record["t_out"] = time.monotonic()
        records.append(record)
        return 200, wire(response)

    cache: dict[str, int] = {}

    def cached_count(text: str) -> int:
        if len(text) < 1500:
            return count(text)
        if text not in cache:
            if len(cache) > 64:
                cache.clear()
            cache[text] = count(text)
        return cache[text]

    def analyse(record: dict[str, Any]) -> None:
        """How the request's prompt splits: fixed system prompt, tools, variable parts."""
        body = record.pop("_body", None)
        if body is None:
            return
        messages, tools = list(body["messages"]), list(body.get("tools") or [])
        parts, fixed_matches = split_prompt(messages, SYSTEM_PROMPT)
        variable = [m for part in PARTS[1:] for m in parts[part]]
        tools_json = dumps(tools) if tools else ""
        jsons = {part: dumps(items) if items else "" for part, items in parts.items()}
        variable_json = dumps(variable) if variable else ""
        record.update({
            "messages": len(messages), "tools": len(tools), "fixed_matches": fixed_matches,
            # JSON as sent (compact, non-ASCII kept): characters, and tokens of that JSON
            "chars": {"messages": len(dumps(messages)), "tools": len(tools_json),
                      "variable": len(variable_json), **{k: len(v) for k, v in jsons.items()}},
            "tokens": {"variable": count(variable_json), "tools": cached_count(tools_json),
                       **{k: cached_count(v) for k, v in jsons.items()}},
            # the text the model reads (contents, tool calls, 3 tokens of framing each)
            "text_tokens": {"variable": message_tokens(variable, count),
                            **{k: message_tokens(v, count) for k, v in parts.items()}},
        })

    async def handle(method: str, path: str, _headers: dict[bytes, bytes], raw: bytes
                     ) -> tuple[int, bytes]:
        if method == "POST" and path == "/v1/chat/completions":
            return await chat(raw)
        if method == "GET" and path == "/_stats":
            return 200, wire({"requests": len(records), "counters": dict(counters),
                              "in_flight": state["in_flight"],
                              "max_in_flight": state["max_in_flight"], "tokens": how})
        if method == "GET" and path == "/_dump":
            for record in records:
                analyse(record)
            return 200, wire({"records": records, "counters": dict(counters),
                              "example": state["example"],
                              "max_in_flight": state["max_in_flight"], "tokens": how})
        if method == "POST" and path == "/_reset":
            records.clear()
            counters.clear()
            state.update(in_flight=0, max_in_flight=0, example=None)
            return 200, wire({"ok": True})
        return 404, wire({"error": {"message": "unknown path", "type": "not_found"}})

    serve(HOST, port, handle)


# -- eki serve with the assistant's steps timed -----------------------------------------------


def run_eki_traced_llm(out_path: str, argv: list[str]) -> None:
    """``_pipeline_support.run_eki_traced`` plus wall-clock timers around the LLM turn's own
    steps; those go to ``<out>.llm.json`` (``out`` without .json)."""
    import atexit
    import functools
    from collections import defaultdict

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _pipeline_support import run_eki_traced
    from eki_adapters import loaders
    from eki_adapters.openai.chat_model import OpenAIChatModel
    from eki_domain.services import delivery, llm_assistant, llm_tool_loop, progress, tools

    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    samples: dict[str, list[float]] = defaultdict(list)

    def timed(owner: Any, attr: str, name: str) -> None:
        original = getattr(owner, attr)

        @functools.wraps(original)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                entry = totals[name]
                entry[0] += 1
                entry[1] += elapsed
                entry[2] = max(entry[2], elapsed)
                if len(samples[name]) < 100_000:
                    samples[name].append(elapsed)

        setattr(owner, attr, wrapper)

    timed(llm_assistant.LLMAssistant, "answer", "llm: answer (whole assistant turn)")
    timed(loaders, "_read_contexts",
          "llm: budgets + histories of the turns starting together (db read)")
    timed(llm_assistant.LLMAssistant, "_flush_usage", "llm: usage ledger write (db)")
    timed(llm_assistant.LLMAssistant, "_prepare", "llm: prepare (budget + history, one uow)")
    timed(llm_tool_loop.ToolLoop, "_run_tool", "llm: run tool")
    timed(OpenAIChatModel, "complete", "llm: model call via SDK (incl. server delay)")
    timed(tools.StudentTools, "get_my_progress", "tool: get_my_progress")
    timed(progress.ProgressService, "report", "progress: report")
    timed(delivery.DeliveryService, "_attempt", "dispatch: _attempt (one send)")
    if not hasattr(delivery.DeliveryService, "_send"):
        # _pipeline_support.run_eki_traced still wraps the pre-rename DeliveryService._send
        # (now _attempt, timed above): give it a harmless target instead of an AttributeError.
        delivery.DeliveryService._send = delivery.DeliveryService._attempt  # type: ignore[attr-defined]

    def pct(values: list[float], q: float) -> float | None:
        if not values:
            return None
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def dump() -> None:
        target = Path(out_path).with_suffix(".llm.json")
        target.write_text(json.dumps({
            name: {"count": v[0], "total_s": v[1], "mean_ms": 1000 * v[1] / v[0] if v[0] else 0,
                   "p50_ms": 1000 * (pct(samples[name], 0.5) or 0),
                   "p95_ms": 1000 * (pct(samples[name], 0.95) or 0), "max_ms": 1000 * v[2]}
            for name, v in totals.items()}))

    atexit.register(dump)
    run_eki_traced(out_path, argv)


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="role", required=True)
    fake = sub.add_parser("fake-openai")
    fake.add_argument("--port", type=int, required=True)
    fake.add_argument("--delay", type=float, default=1.5)
    fake.add_argument("--model", default="gpt-4o-mini-2024-07-18")
    fake.add_argument("--tokenizer-path", default=None,
                      help="a folder with tiktoken or bpe_openai, added to sys.path")
    fake.add_argument("--calls-per-answer", type=int, default=1, choices=(1, 2))
    traced = sub.add_parser("eki-traced-llm")
    traced.add_argument("out")
    traced.add_argument("eki_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.role == "fake-openai":
        run_fake_openai(args.port, args.delay, args.model, args.tokenizer_path,
                        args.calls_per_answer)
    else:
        run_eki_traced_llm(args.out, [a for a in args.eki_args if a != "--"])


if __name__ == "__main__":
    main()
