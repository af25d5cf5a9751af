"""Hostile input against a real `eki serve` process (issue 21): what must not take the
service down or make it grow. Memory is the server's peak resident set (VmHWM)."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import httpx2
import openpyxl

from tests.integration.processes import Served, eki_serve

TOKEN = "hostile-serve-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PEAK_MB = 300


def workbook(cells: dict[str, object]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for ref, value in cells.items():
        sheet[ref] = value
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def peak_mb(served: Served) -> float:
    status = Path(f"/proc/{served.process.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def env_for(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "EKI_ADMIN_TOKEN": TOKEN, "EKI_LOG_LEVEL": "WARNING",
            "EKI_DATABASE_URL": f"sqlite:///{tmp_path / 'eki.db'}"}


def test_a_5kb_spreadsheet_cannot_kill_the_service(tmp_path: Path) -> None:
    """A1…XFD1048576 (512 GiB as a dense grid) and A1…Z1000000 (1.2 GB): 422 in under a
    second each, the server keeps answering, its peak memory stays under 300 MB."""
    wide = workbook({"A1": "Nombre", "B1": "Celular", "XFD1048576": "x"})
    deep = workbook({"A1": "Nombre", "B1": "Celular", "Z1000000": "x"})
    assert len(wide) < 6000 and len(deep) < 6000
    with eki_serve(tmp_path, env_for(tmp_path)) as served:
        for name, content in (("ancho.xlsx", wide), ("profundo.xlsx", deep)):
            for path in ("/api/students/import", "/api/progress/import?kind=grades"):
                started = time.monotonic()
                response = httpx2.post(f"{served.url}{path}", headers=AUTH, timeout=30,
                                       files={"file": (name, content, XLSX)})
                assert time.monotonic() - started < 1.0, (name, path)
                assert response.status_code == 422, response.text
                error = response.json()["error"]
                assert error["code"] == "SHEET_TOO_LARGE"
                assert "demasiado grande" in error["message"]
        assert httpx2.get(f"{served.url}/healthz", timeout=5).status_code == 200
        assert peak_mb(served) < PEAK_MB, served.output()
