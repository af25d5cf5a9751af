"""EKI's pytest plugin, used the way a school's IT team would: from a fresh project in a
temporary folder (pytester, a separate pytest process) that has nothing but EKI installed
and uses only the plugin's fixtures. Every Python block of docs/testing.md runs here
(tests/docs.py: how blocks are found, and the marker of one that must not run)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs import python_blocks, runnable

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def doc_blocks() -> dict[str, list[str]]:
    """The Python blocks of docs/testing.md by role: pytest tests, the conftest example, and
    plain scripts; only blocks marked ``# not run:`` are left out."""
    roles: dict[str, list[str]] = {"tests": [], "conftest": [], "script": []}
    for block in runnable(python_blocks(DOC)):
        if "def eki_settings" in block:
            roles["conftest"].append(block)
        elif "def test_" in block:
            roles["tests"].append(block)
        else:
            roles["script"].append(block)
    return roles


def test_the_doc_has_examples() -> None:
    blocks = python_blocks(DOC)
    assert len(blocks) >= 8
    assert len(blocks) - len(runnable(blocks)) <= 2  # blocks marked `# not run:` stay few
    assert sum(len(b) for b in doc_blocks().values()) == len(runnable(blocks))


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
    project.makepyfile(test_twilio_plugin="""
        from eki_testing.twilio import rate_limited, server_error, status_callback

        def test_twilio_only_when_asked(eki_harness, eki_twilio, eki_graph):
            settings = eki_harness.eki.settings
            assert (settings.channel, settings.twilio_api_url) == ("twilio", eki_twilio.url)
            assert eki_harness.post_webhook({"object": "whatsapp_business_account",
                                             "entry": []}).status_code == 503
            eki_harness.register("Ana María Pérez", "3001234567")
            eki_twilio.then(server_error(503), rate_limited(retry_after=0))
            first = eki_harness.say("3001234567", "hola")
            second = eki_harness.say("3001234567", "¿cómo voy?")
            assert "Ana" in first and eki_harness.replies("3001234567") == [first, second]
            assert len(eki_twilio.texts_to("573001234567", include_failed=True)) == 4
            assert eki_graph.requests == []
            sent = eki_twilio.messages[0]
            delivered = eki_twilio.status_callback_for(sent, "read")
            assert eki_harness.post_twilio(delivered,
                                           path="/webhooks/twilio/status").status_code == 200
            eki_harness.wait_until(lambda: any(m["state"] == "read" for m in
                                               eki_harness.history("3001234567")))

        def test_twilio_signatures_are_checked(eki_harness, eki_twilio):
            form = status_callback("SMx", "delivered", to="573001234567")
            assert eki_harness.post_twilio(form, auth_token="wrong").status_code == 403

        def test_meta_is_the_default(eki_harness, eki_graph):
            assert eki_harness.eki.settings.channel == "meta"

        def test_a_missing_twilio_reply_fails_clearly(eki_harness, eki_twilio):
            eki_harness.register("Ana María Pérez", "3001234567")
            eki_twilio.then(server_error(500), server_error(500), server_error(500),
                            server_error(500))
            eki_harness.say("3001234567", "hola", timeout=0.5)
    """)
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 2, result.stdout.str()
    documented = sum(len(re.findall(r"^def test_", b, re.MULTILINE)) for b in blocks["tests"])
    assert outcomes.get("passed") == documented + 6, result.stdout.str()
    result.stdout.fnmatch_lines([
        "*test_a_missing_reply_fails_clearly*",
        "*EKI sent no reply to 57*4567 within 0.3s*",
    ])
    result.stdout.fnmatch_lines([
        "*test_a_missing_twilio_reply_fails_clearly*",
        "*EKI sent no reply to 57*4567 within 0.5s*fake Twilio API received * request(s)*",
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


def test_the_plain_python_examples_run(project: pytest.Pytester) -> None:
    scripts = doc_blocks()["script"]
    assert len(scripts) >= 2
    for number, script in enumerate(scripts):
        path = project.makepyfile(**{f"try_eki_{number}": script})
        result = project.runpython(path)
        assert result.ret == 0, result.stderr.str()
        if "EkiHarness.for_database" in script:
            assert "Ana" in result.stdout.str()
