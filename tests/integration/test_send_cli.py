"""``eki templates`` and ``eki send`` against SQLite and PostgreSQL (in-process)."""

from __future__ import annotations

import json

from tests.integration.conftest import CliCall


def test_templates_add_and_list(cli: CliCall) -> None:
    code, out, err = cli("templates", "add", "recordatorio", "--lang", "es", "--category",
                         "utility", "--body", "Hola {{1}}, tu nota de {{2}} ya está.")
    assert code == 0, err
    assert "2 parámetro(s)" in out
    assert cli("templates", "add", "borrador", "--category", "marketing", "--body", "Hola",
               "--status", "pending")[0] == 0
    code, out, _ = cli("templates", "list", "--json")
    listing = json.loads(out)
    assert [(t["name"], t["status"], t["parameters"], t["source"]) for t in listing] == [
        ("borrador", "pending", 0, "local"), ("recordatorio", "approved", 2, "local")]
    code, _, err = cli("templates", "add", "Mal Nombre", "--category", "utility", "--body", "x")
    assert code == 2 and "nombre de plantilla" in err
    code, _, err = cli("templates", "sync")  # no WABA id configured
    assert code == 2 and "EKI_WHATSAPP_BUSINESS_ACCOUNT_ID" in err


def test_send_refuses_free_text_outside_the_window_and_sends_templates(
        cli: CliCall) -> None:
    assert cli("students", "add", "Ana María Pérez", "3001234567")[0] == 0
    assert cli("templates", "add", "recordatorio", "--category", "utility", "--body",
               "Hola {{1}}")[0] == 0
    code, out, err = cli("send", "3001234567", "--text", "Hola Ana")
    assert code == 2 and out == ""
    assert "24 horas" in err and "plantilla" in err
    code, out, err = cli("send", "3001234567", "--template", "recordatorio", "--param", "Ana",
                         "--json")
    assert code == 0, err
    queued = json.loads(out)
    assert queued["state"] == "queued" and queued["took_over"] is True
    code, out, _ = cli("handoff", "list")
    assert "Ana María Pérez" in out
    code, _, err = cli("send", "3001234567", "--template", "recordatorio", "--as",
                       "nadie@colegio.co", "--param", "Ana")
    assert code == 2 and "nadie@colegio.co" in err
    code, _, err = cli("send", "3001234567")
    assert code == 2 and "--text or --template" in err
    code, out, _ = cli("audit", "list")
    assert "inbox.replied" in out
