"""The admin site in a real browser: Debian's headless Chromium (/usr/bin/chromium) driven
by Playwright against `eki serve` on a free port (SQLite). Sign in, upload a student .xlsx
with bad rows, read the dry-run issues, confirm, find a student, open a conversation, sign
out, then sign in as a teacher who sees only her groups' students. Screenshots go to
test-artifacts/admin-browser/ at the repository root.

Skipped when Chromium or Playwright is missing, unless EKI_REQUIRE_BROWSER=1 (CI), which
turns that into a failure. Playwright never downloads a browser here."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from eki_adapters.whatsapp import ConsoleChannel
from eki_domain.model.permissions import Principal
from eki_domain.services.staff import Caller
from eki_entrypoints.bootstrap import bootstrap
from eki_entrypoints.settings import Secret, Settings
from tests.integration.admin_seed import seed_school
from tests.integration.processes import eki_serve
from tests.integration.workbooks import xlsx

CHROMIUM = Path(os.environ.get("EKI_CHROMIUM", "/usr/bin/chromium"))
REQUIRE = os.environ.get("EKI_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "admin-browser"
TOKEN = "browser-test-token-0123456789abcdefghij"
TEACHER = "profe10@colegio.edu.co"
TEACHER_PASSWORD = "caballo correcto bateria grapa"

pytestmark = pytest.mark.browser

#: Elements sticking out of the viewport (scrolling containers may hold wide tables).
WIDER_THAN_THE_SCREEN = """() => {
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('.scroll')) continue;
    const r = el.getBoundingClientRect();
    if (r.right > window.innerWidth + 1)
      out.push(el.tagName + '.' + el.className + ' ' + Math.round(r.right));
  }
  return out.slice(0, 10);
}"""


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return (f"{CHROMIUM} not found: install Debian's chromium package "
                "(`apt-get install -y chromium`; scripts/test does it when it can)")
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


async def _prepare(url: str) -> None:
    eki = await bootstrap(Settings(database_url=url, admin_token=Secret(TOKEN)),
                          auto_upgrade=True, channel=ConsoleChannel(name="meta"))
    try:
        await seed_school(eki)
        # a teacher of "grado 10" (no admin account: the shared token still opens /admin)
        await eki.staff.add(Caller(Principal.cli("ci")), TEACHER, "Paula Profe", "teacher",
                            tags=["grado 10"], password=TEACHER_PASSWORD)
    finally:
        await eki.aclose()


@pytest.fixture
def browser_available() -> None:
    """Skip (or, under EKI_REQUIRE_BROWSER=1, fail) before anything is started."""
    reason = _missing()
    if reason is not None:
        if REQUIRE:
            pytest.fail(f"{reason} (EKI_REQUIRE_BROWSER=1)", pytrace=False)
        pytest.skip(reason)


@pytest.fixture
def server(browser_available: None, tmp_path: Path) -> Iterator[str]:
    """`eki serve` on a seeded SQLite database; yields its base URL."""
    url = f"sqlite:///{tmp_path / 'eki.db'}"
    asyncio.run(_prepare(url))
    env = {**os.environ, "EKI_DATABASE_URL": url, "EKI_ADMIN_TOKEN": TOKEN,
           "EKI_LOG_LEVEL": "WARNING", "TMPDIR": str(tmp_path)}
    with eki_serve(tmp_path, env) as served:
        yield served.url


def test_admin_in_a_real_browser(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    from playwright.sync_api import expect, sync_playwright

    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    problems: list[str] = []
    workbook = xlsx([["Nombre", "Teléfono", "Etiquetas"],
                     ["Diana Ruiz", "300 111 2233", "grado 9"],
                     ["Esteban Mora", 3002223344, "grado 9"],
                     ["Sin Teléfono", "", "grado 9"],
                     ["Fabio Núñez", "12", ""]])

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900},
                                          locale="es-CO")
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("response", lambda r: problems.append(f"HTTP {r.status} {r.url}")
                    if r.status >= 400 else None)

            def shot(name: str) -> None:
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

            # 1. Any admin page asks to sign in first.
            page.goto(f"{server}/admin")
            expect(page).to_have_url(re.compile(r"/admin/login\?next="))
            expect(page.get_by_role("heading", name="Iniciar sesión")).to_be_visible()
            shot("01-sign-in")
            page.get_by_label("Token de administración").fill(TOKEN)
            page.get_by_role("button", name="Entrar con el token").click()

            # 2. The dashboard, with its two charts.
            expect(page.get_by_role("heading", name="Panel", exact=True)).to_be_visible()
            expect(page.locator("svg.chart")).to_have_count(2)
            expect(page.get_by_text("Tasa de respuesta")).to_be_visible()
            shot("02-dashboard")

            # 3. Upload a student workbook with bad rows: the dry run lists them.
            page.get_by_role("link", name="Importar").click()
            students_form = page.locator("form", has=page.locator("#students-file"))
            students_form.locator("#students-file").set_input_files(files=[{
                "name": "alumnos.xlsx", "buffer": workbook,
                "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            }])
            students_form.get_by_role("button", name="Ver simulación").click()
            expect(page.get_by_role("heading", name="Simulación: Estudiantes")).to_be_visible()
            expect(page.locator("tr.error")).to_have_count(2)
            expect(page.get_by_text("Todavía no se guardó nada")).to_be_visible()
            shot("03-dry-run")

            # 4. Confirm: the valid rows are imported.
            page.get_by_role("button", name="Confirmar e importar").click()
            expect(page.get_by_role("heading", name="Importación terminada: Estudiantes")
                   ).to_be_visible()
            expect(page.locator(".counts dd").nth(1)).to_have_text("2")
            shot("04-imported")

            # 5. Find a student, then open a conversation seeded beforehand.
            page.get_by_role("link", name="Estudiantes", exact=True).first.click()
            page.get_by_label("Buscar (nombre o teléfono)").fill("diana")
            page.get_by_role("button", name="Filtrar").click()
            expect(page.get_by_role("link", name="Diana Ruiz")).to_be_visible()
            expect(page.get_by_text("1 estudiante(s)")).to_be_visible()
            shot("05-search")
            page.get_by_label("Buscar (nombre o teléfono)").fill("300 123 4567")
            page.get_by_role("button", name="Filtrar").click()
            page.get_by_role("link", name="Ana María Pérez").click()
            expect(page.get_by_role("heading", name="Conversación")).to_be_visible()
            expect(page.get_by_text("hola, ¿cómo voy en matemáticas?")).to_be_visible()
            expect(page.locator(".message.out .badge.delivered")).to_have_count(1)
            expect(page.get_by_role("cell", name="Matemáticas")).to_be_visible()
            shot("06-conversation")

            # The same page on a phone: nothing wider than the screen.
            page.set_viewport_size({"width": 390, "height": 844})
            too_wide = page.evaluate(WIDER_THAN_THE_SCREEN)
            assert too_wide == [], f"the student page scrolls sideways on a phone: {too_wide}"
            shot("07-conversation-phone")
            page.set_viewport_size({"width": 1280, "height": 900})

            # 6. Sign out: the admin is closed again.
            page.get_by_role("button", name="Cerrar sesión").click()
            expect(page.get_by_text("Cerró la sesión")).to_be_visible()
            page.goto(f"{server}/admin/students")
            expect(page).to_have_url(re.compile(r"/admin/login"))
            shot("08-signed-out")

            # 7. A teacher signs in as herself and sees only her groups' students.
            page.get_by_label("Correo").fill(TEACHER)
            page.get_by_label("Contraseña", exact=True).fill(TEACHER_PASSWORD)
            page.get_by_role("button", name="Entrar", exact=True).click()
            expect(page.get_by_role("heading", name="Estudiantes", exact=True)).to_be_visible()
            expect(page.get_by_role("link", name="Ana María Pérez")).to_be_visible()
            expect(page.get_by_role("link", name="Carla Gómez")).to_be_visible()
            expect(page.get_by_text("Bruno Díaz")).to_have_count(0)
            expect(page.get_by_role("link", name="Importar")).to_have_count(0)
            expect(page.get_by_role("link", name="Mi cuenta")).to_be_visible()
            shot("09-teacher-students")
        finally:
            browser.close()

    with capsys.disabled():
        print(f"\n    admin browser screenshots: {ARTIFACTS}")
    assert problems == [], problems
