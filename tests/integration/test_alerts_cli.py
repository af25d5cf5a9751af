"""``eki alerts`` against SQLite and PostgreSQL (in-process, the real clock)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.integration.conftest import CliCall


def test_rules_run_and_list(cli: CliCall, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EKI_QUIET_HOURS", "")  # whatever the hour the suite runs at
    code, out, _ = cli("alerts", "rules", "--json")
    assert code == 0 and [r["enabled"] for r in json.loads(out)] == [False, False, False]
    code, _, err = cli("alerts", "on", "falla")
    assert code == 2 and "alerta_falla" in err  # no template yet
    assert cli("templates", "add", "alerta_falla", "--category", "utility", "--body",
               "Hoy {{1}} no asistió a {{2}}.")[0] == 0
    code, out, err = cli("alerts", "on", "falla")
    assert code == 0 and "activada" in out, err
    with pytest.raises(SystemExit) as usage:  # argparse's own usage error
        cli("alerts", "on", "nada")
    assert usage.value.code == 2
    assert cli("students", "add", "Ana María Pérez", "3001234567")[0] == 0
    today = datetime.now(UTC).astimezone(ZoneInfo("America/Bogota")).date()
    sheet = tmp_path / "asistencia.csv"
    sheet.write_text(f"telefono,curso,fecha,estado\n3001234567,Matemáticas,{today},ausente\n",
                     encoding="utf-8")
    assert cli("progress", "import", str(sheet))[0] == 0
    code, out, _ = cli("alerts", "run", "--dry-run", "--json")
    dry = json.loads(out)
    assert code == 0 and dry["dry_run"] and dry["queued"] == []
    assert [(a["rule"], a["recipient"], a["recipient_kind"]) for a in dry["send"]] == [
        ("falla", "+573001234567", "student")]
    code, out, _ = cli("alerts", "run")
    assert code == 0 and "En cola: 1 alerta(s)." in out and "+57***4567" in out
    code, out, _ = cli("alerts", "run", "--json")
    assert json.loads(out)["send"] == []  # once
    code, out, _ = cli("alerts", "list", "--since", today.isoformat(), "--json")
    [sent] = json.loads(out)
    assert sent["rule"] == "falla" and sent["outbound_id"] is not None
    code, out, _ = cli("alerts", "list", "--since", "2999-01-01")
    assert "No ha salido ninguna alerta en ese periodo." in out
    with pytest.raises(SystemExit):
        cli("alerts", "list", "--since", "ayer")
    code, out, _ = cli("alerts", "off", "falla")
    assert "apagada" in out
    code, out, _ = cli("audit", "list")
    assert "alerts.rule_switched" in out
