"""EKI's pytest plugin, used the way a school's IT team would: from a fresh project in a
temporary folder (pytester, a separate pytest process) that has nothing but EKI installed
and uses only the plugin's fixtures. Every Python block of docs/testing.md runs here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def doc_blocks() -> dict[str, list[str]]:
    """The Python blocks of docs/testing.md by role; every block must have one."""
    roles: dict[str, list[str]] = {"tests": [], "conftest": [], "script": []}
    for block in BLOCK.findall(DOC.read_text(encoding="utf-8")):
        if "def eki_settings" in block:
            roles["conftest"].append(block)
        elif "def test_" in block:
            roles["tests"].append(block)
        elif "EkiHarness.for_database" in block:
            roles["script"].append(block)
        else:
            raise AssertionError(f"docs/testing.md has a Python block no test runs:\n{block}")
    return roles


def ten_lines() -> str:
    first = doc_blocks()["tests"][0]
    assert len(first.strip().splitlines()) <= 10, "the ten-line example grew"
    return first


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("EKI_TEST_DATABASE_URL", raising=False)
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return pytester


def test_every_documented_example_passes_in_a_fresh_project(project: pytest.Pytester) -> None:
    blocks = doc_blocks()
    project.makepyfile(**{f"test_doc_{i}": block for i, block in enumerate(blocks["tests"])})
    mexico = project.mkpydir("mexico")
    (mexico / "conftest.py").write_text(blocks["conftest"][0], encoding="utf-8")
    (mexico / "test_mexico.py").write_text(
        "def test_settings_are_overridden(eki_harness):\n"
        "    assert eki_harness.eki.settings.default_country == 'MX'\n"
        "    assert eki_harness.wa_id('55 1234 5678') == '525512345678'\n", encoding="utf-8")
    project.makepyfile(test_plugin_only="""
        def test_fixtures_are_isolated(eki_harness, eki_graph, eki_database_url):
            assert eki_database_url.startswith("sqlite:///")
            assert eki_graph.requests == []
            assert eki_harness.client.get("/readyz").status_code == 200
            assert eki_harness.eki.model is None  # no eki_openai: rule-based replies

        def test_llm_only_when_asked(eki_harness, eki_openai):
            assert eki_harness.eki.settings.openai_base_url == eki_openai.url

        def test_a_missing_reply_fails_clearly(eki_harness):
            eki_harness.register("Ana María Pérez", "3001234567")
            eki_harness.wait_for_reply("3001234567", timeout=0.3)
    """)
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 1, result.stdout.str()
    documented = sum(len(re.findall(r"^def test_", b, re.MULTILINE)) for b in blocks["tests"])
    assert outcomes.get("passed") == documented + 3, result.stdout.str()
    result.stdout.fnmatch_lines([
        "*test_a_missing_reply_fails_clearly*",
        "*EKI sent no reply to 573**4567 within 0.3s*",
    ])


@pytest.mark.postgres
def test_ten_lines_against_a_given_postgres(project: pytest.Pytester, postgres_url: str) -> None:
    project.makepyfile(test_eki=ten_lines() + """

def test_the_given_database_is_used_and_emptied(eki_database_url, eki_harness):
    assert eki_database_url.startswith("postgresql")
    assert eki_harness.call(eki_harness.eki.registration.count) == 0
""")
    result = project.runpytest_subprocess("-p", "no:cacheprovider",
                                          "--eki-database-url", postgres_url)
    result.assert_outcomes(passed=2)


def test_the_plain_python_example_runs(project: pytest.Pytester) -> None:
    [script] = doc_blocks()["script"]
    path = project.makepyfile(try_eki=script)
    result = project.runpython(path)
    assert result.ret == 0, result.stderr.str()
    assert "Ana" in result.stdout.str()
