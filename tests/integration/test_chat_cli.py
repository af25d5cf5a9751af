"""`eki chat`, `eki handoff` against real databases: the same pipeline from a terminal."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def eki(cli):  # type: ignore[no-untyped-def]
    cli("students", "add", "Ana María Pérez", "300 123 4567", "--tag", "grado 10")
    return cli


def test_one_message_as_json(eki) -> None:  # type: ignore[no-untyped-def]
    code, out, err = eki("chat", "--phone", "3001234567", "--message", "mis datos", "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["intent"] == "mis_datos"
    assert answer["tools"] == ["get_my_profile"]
    assert "Ana María Pérez" in answer["reply"]


def test_plain_reply_and_unknown_sender(eki) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = eki("chat", "--phone", "3001234567", "--message", "hola")
    assert code == 0 and "Ana" in out
    code, out, _ = eki("chat", "--phone", "3109999999", "--message", "hola", "--json")
    answer = json.loads(out)
    assert answer["intent"] == "unknown_sender" and "Ana" not in answer["reply"]


def test_handoff_then_release(eki) -> None:  # type: ignore[no-untyped-def]
    _, out, _ = eki("chat", "--phone", "3001234567", "--message", "quiero hablar con un asesor",
                    "--json")
    assert json.loads(out)["intent"] == "humano"
    code, out, _ = eki("handoff", "list")
    assert code == 0 and "Ana María Pérez" in out
    _, out, _ = eki("chat", "--phone", "3001234567", "--message", "hola", "--json")
    assert json.loads(out)["reply"] == ""  # paused: a person answers
    code, out, _ = eki("handoff", "release", "573001234567")
    assert code == 0 and "vuelve a responder" in out
    _, out, _ = eki("chat", "--phone", "3001234567", "--message", "hola", "--json")
    assert "Ana" in json.loads(out)["reply"]
    assert "no tenía" in eki("handoff", "release", "3001234567")[1]


def test_chat_messages_never_reach_the_whatsapp_worker(eki, database_url: str) -> None:  # type: ignore[no-untyped-def]
    eki("chat", "--phone", "3001234567", "--message", "hola")
    import asyncio

    from eki_entrypoints.bootstrap import bootstrap
    from eki_entrypoints.settings import Settings

    async def pending_for_meta() -> int:
        app = await bootstrap(Settings(database_url=database_url))
        try:
            result = await app.conversation.process_next(channels=("meta",))
            return 0 if result is None else 1
        finally:
            await app.aclose()

    assert asyncio.run(pending_for_meta()) == 0
