"""Imports over HTTP: JSON, multipart uploads, the seed contract, limits and auth."""

from __future__ import annotations

import io
from collections.abc import Iterator

import openpyxl
import pytest
from starlette.testclient import TestClient

from eki_entrypoints.settings import Secret, Settings
from eki_entrypoints.web import create_app
from tests.integration.workbooks import xlsx

TOKEN = "import-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, admin_token=Secret(TOKEN))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def workbook_bytes() -> bytes:
    return xlsx([["Nombre", "Celular", "Grupo"], ["Ana", 3001234567, "Grado 10"],
                 ["Beto", "12", ""]])


def test_seed_contract(client: TestClient) -> None:
    body = [
        {"nombre": "Juan", "telefono": "3001234567"},
        {"nombre": "María", "telefono": "573009876543", "activo": "no", "etiquetas": "coro"},
        {"nombre": "Pedro", "telefono": "123"},
    ]
    response = client.post("/api/estudiantes/importar/", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["success"] is True
    assert data["creados"] == 2
    assert len(data["errores"]) == 1
    assert data["errores"][0].startswith("123: ")
    assert data["rows_read"] == 3 and data["created"] == 2 and data["errors"] == 1
    assert data["issues"][0]["row"] == 3
    again = client.post("/api/estudiantes/importar/", json=body, headers=AUTH).json()
    assert (again["creados"], again["sin_cambios"]) == (0, 2)


def test_json_import_with_dry_run_and_strict(client: TestClient) -> None:
    body = [{"nombre": "Ana", "telefono": "3001234567"}, {"nombre": "", "telefono": "3109876543"}]
    dry = client.post("/api/students/import?dry_run=1", json=body, headers=AUTH)
    assert dry.status_code == 200
    assert dry.json()["status"] == "dry_run" and dry.json()["created"] == 1
    strict = client.post("/api/students/import?strict=1", json=body, headers=AUTH)
    assert strict.status_code == 422 and strict.json()["status"] == "rejected"
    assert client.get("/api/students/3001234567", headers=AUTH).status_code == 404
    done = client.post("/api/students/import", json=body, headers=AUTH).json()
    assert done["status"] == "completed" and done["created"] == 1
    assert client.get("/api/students/3001234567", headers=AUTH).status_code == 200


def test_multipart_upload_and_errors_file_download(client: TestClient) -> None:
    response = client.post(
        "/api/students/import",
        files={"file": ("lista.xlsx", workbook_bytes(), XLSX)},
        headers=AUTH,
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["file"], report["created"], report["errors"]) == ("lista.xlsx", 1, 1)
    errors = client.get(f"/api/imports/{report['job_id']}/errors", headers=AUTH)
    assert errors.status_code == 200
    assert errors.headers["content-type"] == XLSX
    sheet = openpyxl.load_workbook(io.BytesIO(errors.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Nombre", "Celular", "Grupo", "fila_original", "errores")
    assert rows[1][:2] == ("Beto", "12") and rows[1][3] == 3
    as_csv = client.get(f"/api/imports/{report['job_id']}/errors?format=csv", headers=AUTH)
    assert as_csv.text.startswith("\ufeffNombre;Celular;Grupo;fila_original;errores")
    history = client.get("/api/imports", headers=AUTH).json()["items"]
    assert history[0]["id"] == report["job_id"] and history[0]["status"] == "completed"


def test_bad_inputs(client: TestClient) -> None:
    not_json = client.post("/api/students/import", content=b"{nope",
                           headers={**AUTH, "Content-Type": "application/json"})
    assert not_json.status_code == 400
    wrong_shape = client.post("/api/students/import", json={"nombre": "Ana"}, headers=AUTH)
    assert wrong_shape.status_code == 422
    assert wrong_shape.json()["error"]["code"] == "INVALID_JSON"
    missing = client.post("/api/students/import", json=[{"nombre": "Ana"}], headers=AUTH)
    assert missing.status_code == 422
    assert missing.json()["error"]["code"] == "MISSING_COLUMN"
    html = client.post("/api/students/import", headers=AUTH,
                       files={"file": ("lista.xls", b"<html><table></table></html>", "text/html")})
    assert html.status_code == 422 and html.json()["error"]["code"] == "WRONG_FORMAT"
    no_file = client.post("/api/students/import", headers=AUTH, data={"x": "1"},
                          files={"other": ("a.csv", b"a", "text/csv")})
    assert no_file.status_code == 400
    text = client.post("/api/students/import", content=b"x",
                       headers={**AUTH, "Content-Type": "text/plain"})
    assert text.status_code == 415
    bad_country = client.post("/api/students/import?country=ZZZ", json=[], headers=AUTH)
    assert bad_country.status_code == 400


def test_oversized_body_is_refused_with_413(client: TestClient) -> None:
    big = b"[" + b" " * (51 * 1024 * 1024) + b"]"
    response = client.post("/api/students/import", content=big,
                           headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_import_needs_the_admin_token(client: TestClient) -> None:
    for path in ("/api/students/import", "/api/estudiantes/importar/"):
        response = client.post(path, json=[{"nombre": "Ana", "telefono": "3001234567"}])
        assert response.status_code == 401
    assert client.get("/api/imports").status_code == 401


def test_lists_beyond_the_sheet_limits_are_refused_before_parsing(client: TestClient) -> None:
    """More objects in a JSON body than a sheet has rows (3 MB here, millions of
    dictionaries parsed) and a CSV of line breaks: 422 SHEET_TOO_LARGE, as for a sheet
    beyond the limits."""
    from eki_adapters.spreadsheets.bounds import SheetLimits

    rows = SheetLimits().rows
    body = b"[" + b"{}," * (rows + 1) + b"{}]"
    response = client.post("/api/students/import", content=body, headers={
        **AUTH, "content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "SHEET_TOO_LARGE"
    csv_body = b"nombre,telefono\n" + b"\n" * (rows + 100_000)
    upload = client.post("/api/students/import", headers=AUTH,
                         files={"file": ("lista.csv", csv_body, "text/csv")})
    assert upload.status_code == 422, upload.text
    assert upload.json()["error"]["code"] == "SHEET_TOO_LARGE"
    assert "«lista.csv»" in upload.json()["error"]["message"]
