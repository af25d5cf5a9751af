"""Hostile input against a real `eki serve` process (issue 21): what must not take the
service down or make it grow. Memory is the server's peak resident set (VmHWM)."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import time
from pathlib import Path

import httpx2
import openpyxl
import pytest

from tests.integration.ods import cell, empty, ods, row
from tests.integration.processes import Served, eki_serve
from tests.workbooks import SST, with_shared_strings

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


def naming_a_long_string(cells: int, size: int) -> bytes:
    """A workbook whose A2…A{cells + 1} each name one shared string of ``size`` letters
    (calamine copies it into every cell)."""
    rows = b"".join(b'<row r="%d"><c r="A%d" t="s"><v>0</v></c></row>' % (n, n)
                    for n in range(2, cells + 2))
    strings = SST + b"<si><t>" + b"x" * size + b"</t></si></sst>"
    return with_shared_strings(workbook({"A1": "Nombre", "B1": "Celular"}), strings, rows)


def peak_mb(served: Served) -> float:
    status = Path(f"/proc/{served.process.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def env_for(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "EKI_ADMIN_TOKEN": TOKEN, "EKI_LOG_LEVEL": "WARNING",
            "EKI_DATABASE_URL": f"sqlite:///{tmp_path / 'eki.db'}"}


@pytest.mark.serial  # a 1 s bound on a child process's parse: not beside other tests
def test_a_5kb_spreadsheet_cannot_kill_the_service(tmp_path: Path) -> None:
    """A1…XFD1048576 (512 GiB as a dense grid) and A1…Z1000000 (1.2 GB), an .ods whose
    repeated rows do the same, and 3,000 cells naming one 1 MB shared string (6 GB once
    copied into each): 422 in under a second each, the server keeps answering, its peak
    memory stays under 300 MB (the .ods and the shared string are parsed in a child
    process with a memory ceiling)."""
    wide = workbook({"A1": "Nombre", "B1": "Celular", "XFD1048576": "x"})
    deep = workbook({"A1": "Nombre", "B1": "Celular", "Z1000000": "x"})
    deep_ods = ods([row([cell("Nombre"), cell("Celular")]), row([empty(2)], 1_000_000),
                    row([cell("x"), cell("y"), empty(20), cell("z")])])
    named = naming_a_long_string(3000, 1_000_000)
    assert len(wide) < 6000 and len(deep) < 6000 and len(deep_ods) < 6000
    assert len(named) < 40_000
    with eki_serve(tmp_path, env_for(tmp_path)) as served:
        for name, content in (("ancho.xlsx", wide), ("profundo.xlsx", deep),
                              ("profundo.ods", deep_ods), ("cadena.xlsx", named)):
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


def vm_rss_mb(served: Served) -> float:
    status = Path(f"/proc/{served.process.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def test_300_unfinished_webhook_bodies_cannot_exhaust_memory(tmp_path: Path) -> None:
    """300 connections each send all but the last byte of a 3 MiB body and wait: the
    server stays under 300 MB, answers /healthz, refuses the surplus (503) and drops the
    stalled ones after the read timeout (408)."""
    size = 3 * 1024 * 1024
    body = memoryview(b"x" * size)
    env = {**env_for(tmp_path), "EKI_WHATSAPP_APP_SECRET": "app-secret",
           "EKI_BODY_READ_TIMEOUT": "4"}
    with eki_serve(tmp_path, env) as served:
        port = int(served.url.rsplit(":", 1)[1])
        head = (f"POST /webhooks/whatsapp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: application/json\r\nContent-Length: {size}\r\n"
                "X-Hub-Signature-256: sha256=00\r\n\r\n").encode()
        sockets: list[socket.socket] = []
        sent: dict[int, int] = {}
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(head)
            sock.setblocking(False)
            sent[sock.fileno()] = 0
            sockets.append(sock)
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                progress = False
                for sock in sockets:
                    offset = sent[sock.fileno()]
                    if offset < 0 or offset >= size - 1:
                        continue
                    try:
                        count = sock.send(body[offset:min(size - 1, offset + 256 * 1024)])
                    except BlockingIOError:
                        continue
                    except OSError:
                        sent[sock.fileno()] = -1  # the server answered and closed
                        continue
                    sent[sock.fileno()] = offset + count
                    progress = True
                if not progress:
                    time.sleep(0.05)
                    if all(v < 0 or v >= size - 1 for v in sent.values()):
                        break
            assert vm_rss_mb(served) < PEAK_MB, served.output()
            health = httpx2.get(f"{served.url}/healthz", timeout=10)
            assert health.status_code == 200
            answers = []
            for sock in sockets:
                sock.setblocking(True)
                sock.settimeout(10)
                try:
                    answers.append(sock.recv(64).split(b" ")[1])
                except (OSError, IndexError):
                    answers.append(b"closed")
            assert b"503" in answers and b"408" in answers, set(answers)
            assert set(answers) <= {b"503", b"408", b"closed"}
            assert peak_mb(served) < PEAK_MB, served.output()
        finally:
            for sock in sockets:
                sock.close()
        assert httpx2.get(f"{served.url}/healthz", timeout=5).status_code == 200


def test_eki_refuses_short_tokens_and_says_how_to_make_one(tmp_path: Path) -> None:
    from tests.integration.processes import EKI

    for variable in ("EKI_ADMIN_TOKEN", "EKI_METRICS_TOKEN"):
        env = {**env_for(tmp_path), variable: "too-short-token"}
        done = subprocess.run([EKI, "serve", "--port", "1"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and variable in lines[0] and "32" in lines[0]
        assert "secrets.token_urlsafe(32)" in lines[0] and "Traceback" not in done.stderr


def test_the_cli_refuses_a_hostile_sheet_in_one_line(tmp_path: Path) -> None:
    from tests.integration.processes import EKI

    path = tmp_path / "ancho.xlsx"
    path.write_bytes(workbook({"A1": "Nombre", "B1": "Celular", "XFD1048576": "x"}))
    nested = tmp_path / "lista.json"
    nested.write_bytes(b"[" * 200_000)
    for target in (path, nested):
        done = subprocess.run([EKI, "students", "import", str(target)], env=env_for(tmp_path),
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
