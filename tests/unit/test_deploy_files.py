"""The deploy files run commands the CLI has and set only variables EKI knows.

Dockerfile, compose.yaml, render.yaml, Procfile, deploy/systemd/* and the commands shown in
docs/deploy.md: every ``eki …`` they run parses with the real ``eki`` argparse parser, and
every variable they set for an EKI process is a setting ``eki_entrypoints.settings`` reads
(or a platform/Python variable such as PORT). No container runtime runs here: the files are
read, not executed (docs/deploy.md, "Testing these files").
"""

from __future__ import annotations

import http.server
import importlib.util
import re
import shlex
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.deploy_files import (
    ROOT,
    YamlSubsetError,
    cli_error,
    dockerfile_instructions,
    eki_invocations,
    env_assignments,
    env_file_names,
    exec_or_shell,
    known_settings,
    parse_yaml,
    read_unit,
    read_yaml,
    unknown,
)

SYSTEMD = ROOT / "deploy" / "systemd"


@pytest.fixture(scope="module")
def known() -> frozenset[str]:
    return known_settings()


def assert_commands_parse(where: str, commands: list[list[str]]) -> None:
    assert commands, f"{where}: no eki command found (the reader missed them?)"
    errors = {" ".join(["eki", *args]): cli_error(args) for args in commands}
    assert not {k: v for k, v in errors.items() if v}, f"{where}: {errors}"


# -- the readers themselves -------------------------------------------------------------------


def test_yaml_subset_reads_what_the_files_use() -> None:
    text = """
# comment
name: eki   # trailing comment
list:
  - plain
  - "quoted # not a comment"
  - key: value
    other: 'it''s'
flow: ["a", "b c"]
empty: []
nested:
  deeper:
    n: 20
    flag: true
    none:
seq_at_key_level:
- x
- y
"""
    assert parse_yaml(text) == {
        "name": "eki",
        "list": ["plain", "quoted # not a comment", {"key": "value", "other": "it's"}],
        "flow": ["a", "b c"], "empty": [],
        "nested": {"deeper": {"n": 20, "flag": True, "none": None}},
        "seq_at_key_level": ["x", "y"],
    }


@pytest.mark.parametrize("text", ["a: &anchor 1\nb: *anchor\n", "a: |\n  block\n",
                                  "a: {b: 1}\n", "a: 1\na: 2\n", "a:\n\t- b\n",
                                  "just a line\n"])
def test_yaml_subset_refuses_what_it_does_not_support(text: str) -> None:
    with pytest.raises(YamlSubsetError):
        parse_yaml(text)


def test_commands_are_found_in_every_form() -> None:
    assert eki_invocations(["eki", "db", "upgrade"]) == [["db", "upgrade"]]
    assert eki_invocations('sh -c \'exec eki serve --port "${PORT:-8000}"\'') == [
        ["serve", "--port", "8000"]]
    assert eki_invocations("eki db upgrade && /opt/eki/venv/bin/eki worker") == [
        ["db", "upgrade"], ["worker"]]
    assert eki_invocations("pip install .") == []
    assert eki_invocations("python -m venv /opt/eki && /opt/eki/bin/pip install .") == []
    assert eki_invocations("sudo -u eki env A=1 eki students list") == [["students", "list"]]
    assert cli_error(["serve", "--no-worker"]) is None
    assert cli_error(["serve", "--no-such-flag"]) is not None
    assert cli_error(["no-such-command"]) is not None


def test_known_settings_are_read_from_the_settings_module(known: frozenset[str]) -> None:
    assert {"EKI_DATABASE_URL", "EKI_DB_POOL_SIZE", "OPENAI_API_KEY",
            "EKI_WHATSAPP_APP_SECRET"} <= known
    assert unknown(["EKI_NO_SUCH_SETTING", "PORT", "EKI_LOG_LEVEL"], known) == [
        "EKI_NO_SUCH_SETTING"]


# -- Dockerfile ---------------------------------------------------------------------------------


def test_dockerfile(known: frozenset[str]) -> None:
    instructions = dockerfile_instructions((ROOT / "Dockerfile").read_text(encoding="utf-8"))
    kinds = [kind for kind, _ in instructions]
    images = [args.split()[0] for kind, args in instructions if kind == "FROM"]
    assert images and all(re.fullmatch(r"python:3\.1[1-9]-slim", image) for image in images)
    users = [args for kind, args in instructions if kind == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must run as a non-root user"
    assert kinds.index("USER") < kinds.index("CMD")
    (health,) = [args for kind, args in instructions if kind == "HEALTHCHECK"]
    script = health.split("CMD", 1)[1].strip()
    assert "/opt/eki/healthcheck.py" in script
    assert any(kind == "COPY" and args.startswith("deploy/healthcheck.py ") for kind, args
               in instructions)
    commands = [args for kind, args in instructions if kind in ("CMD", "ENTRYPOINT", "RUN")]
    invocations = [inv for c in commands for inv in eki_invocations(exec_or_shell(c))]
    assert_commands_parse("Dockerfile", invocations)
    assert invocations[-1][0] == "serve"
    names = [n for kind, args in instructions if kind == "ENV" for n in env_assignments(args)]
    assert not unknown(names, known)
    assert "eki db upgrade" in (ROOT / "Dockerfile").read_text(encoding="utf-8")


def load_healthcheck() -> Any:
    spec = importlib.util.spec_from_file_location("eki_healthcheck",
                                                  ROOT / "deploy" / "healthcheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def probe_target() -> Iterator[dict[str, Any]]:
    """A real HTTP server on 127.0.0.1 answering /healthz with ``state['status']``."""
    state: dict[str, Any] = {"status": 200, "hosts": []}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server's name for GET
            state["hosts"].append(self.headers.get("Host"))
            code = state["status"] if self.path == "/healthz" else 404
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *_args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["port"] = server.server_address[1]
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def test_healthcheck_script_probes_healthz(probe_target: dict[str, Any],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_healthcheck()
    monkeypatch.setattr(sys, "argv", ["healthcheck.py", str(probe_target["port"])])
    monkeypatch.delenv("EKI_ALLOWED_HOSTS", raising=False)
    assert module.main() == 0
    monkeypatch.setenv("EKI_ALLOWED_HOSTS", "*.colegio.edu.co, eki.example")
    assert module.main() == 0
    assert probe_target["hosts"][-1] == "health.colegio.edu.co"
    probe_target["status"] = 500
    assert module.main() == 1
    monkeypatch.setattr(sys, "argv", ["healthcheck.py"])
    monkeypatch.setenv("PORT", str(probe_target["port"]))
    probe_target["status"] = 200
    assert module.main() == 0


def test_healthcheck_script_fails_when_nothing_listens(monkeypatch: pytest.MonkeyPatch,
                                                       probe_target: dict[str, Any]) -> None:
    module = load_healthcheck()
    port = probe_target["port"]
    monkeypatch.setattr(sys, "argv", ["healthcheck.py", str(port)])
    assert module.main() == 0
    # a port nobody listens on: the one of a server that was shut down
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    monkeypatch.setattr(sys, "argv", ["healthcheck.py", str(free)])
    assert module.main() == 1


# -- compose.yaml -------------------------------------------------------------------------------


def test_compose(known: frozenset[str]) -> None:
    services = read_yaml("compose.yaml")["services"]
    assert {"postgres", "redis", "migrate", "web", "worker"} <= set(services)
    assert str(services["postgres"]["image"]).startswith("postgres:")
    assert str(services["redis"]["image"]).startswith("redis:")
    runs: dict[str, list[str]] = {}
    for name, service in services.items():
        command = service.get("command")
        invocations = eki_invocations(command) if command else []
        if not invocations:
            continue
        assert len(invocations) == 1, name
        runs[name] = invocations[0]
        assert_commands_parse(f"compose.yaml {name}", invocations)
        names = list((service.get("environment") or {}).keys())
        assert not unknown(names, known), f"{name}: {unknown(names, known)}"
        assert "EKI_DATABASE_URL" in names
        test = (service.get("healthcheck") or {}).get("test")
        if test:
            assert "healthcheck.py" in " ".join(test)
    assert runs["migrate"] == ["db", "upgrade"]
    assert runs["web"][0] == "serve" and "--no-worker" in runs["web"]
    assert runs["worker"][0] == "worker"
    for name in ("web", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert "EKI_REDIS_URL" in services[name]["environment"]
    port = services["worker"]["command"][services["worker"]["command"].index(
        "--metrics-port") + 1]
    assert services["worker"]["healthcheck"]["test"][-1] == port


# -- render.yaml --------------------------------------------------------------------------------


def test_render_blueprint(known: frozenset[str]) -> None:
    blueprint = read_yaml("render.yaml")
    services = blueprint["services"]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for service in services:
        by_type.setdefault(service["type"], []).append(service)
    (web,) = by_type["web"]
    (worker,) = by_type["worker"]
    (keyvalue,) = by_type["keyvalue"]
    (database,) = blueprint["databases"]
    assert web["healthCheckPath"] == "/healthz"
    assert eki_invocations(web["preDeployCommand"]) == [["db", "upgrade"]]
    assert "--no-worker" in eki_invocations(web["startCommand"])[0]
    assert eki_invocations(worker["startCommand"])[0][0] == "worker"
    names = {"web": web["name"], "worker": worker["name"], "keyvalue": keyvalue["name"]}
    for service in (web, worker):
        invocations = [inv for key in ("buildCommand", "preDeployCommand", "startCommand")
                       if service.get(key) for inv in eki_invocations(service[key])]
        assert_commands_parse(f"render.yaml {service['name']}", invocations)
        variables = service["envVars"]
        keys = [v["key"] for v in variables]
        assert len(keys) == len(set(keys)), service["name"]
        assert not unknown(keys, known), unknown(keys, known)
        for variable in variables:
            if "fromDatabase" in variable:
                assert variable["fromDatabase"]["name"] == database["name"]
            if "fromService" in variable:
                ref = variable["fromService"]
                assert names[ref["type"]] == ref["name"], ref
                if "envVarKey" in ref:  # copied from the web service: it must set it
                    assert ref["envVarKey"] in [v["key"] for v in web["envVars"]]
        assert {"EKI_DATABASE_URL", "EKI_REDIS_URL"} <= set(keys)
    assert keyvalue["ipAllowList"] == []


# -- Procfile -----------------------------------------------------------------------------------


def test_procfile() -> None:
    processes = {}
    for line in (ROOT / "Procfile").read_text(encoding="utf-8").splitlines():
        if line.strip():
            name, _, command = line.partition(":")
            processes[name.strip()] = command.strip()
    assert set(processes) == {"release", "web", "worker"}
    for name, command in processes.items():
        assert_commands_parse(f"Procfile {name}", eki_invocations(command))
    assert eki_invocations(processes["release"]) == [["db", "upgrade"]]
    assert "--no-worker" in eki_invocations(processes["web"])[0]


# -- systemd ------------------------------------------------------------------------------------


def test_systemd_units(known: frozenset[str]) -> None:
    units = {path.name: read_unit(path) for path in sorted(SYSTEMD.glob("*.service"))}
    assert set(units) == {"eki-migrate.service", "eki-web.service", "eki-worker@.service"}
    runs: dict[str, list[list[str]]] = {}
    for name, entries in units.items():
        execs = [value for section, key, value in entries if section == "Service"
                 and key in ("ExecStart", "ExecStartPre", "ExecStartPost")]
        runs[name] = [inv for command in execs for inv in eki_invocations(command)]
        assert_commands_parse(f"deploy/systemd/{name}", runs[name])
        values = {key: value for section, key, value in entries if section == "Service"}
        assert values["User"] == "eki", f"{name} must not run as root"
        assert values["EnvironmentFile"] == "/etc/eki/eki.env"
        names = [n for _s, key, value in entries if key == "Environment"
                 for n in env_assignments(value)]
        assert not unknown(names, known)
        for _section, key, value in entries:  # units it needs exist here
            if key in ("Requires", "After", "Wants"):
                for unit in value.split():
                    if unit.startswith("eki"):
                        assert unit in units, f"{name}: {key}={unit}"
    assert runs["eki-migrate.service"] == [["db", "upgrade"]]
    assert runs["eki-web.service"][0][0] == "serve"
    assert "--no-worker" in runs["eki-web.service"][0]
    assert runs["eki-worker@.service"][0][0] == "worker"
    env_names = env_file_names(SYSTEMD / "eki.env.example")
    assert not unknown(env_names, known), unknown(env_names, known)
    assert "EKI_DATABASE_URL" in env_names


# -- docs/deploy.md -----------------------------------------------------------------------------


def shown_invocations(line: str) -> list[list[str]]:
    """``eki …`` anywhere in a shell line of the guide, also after ``docker run … IMAGE``
    or ``sudo -u eki``: an ``eki`` token followed by a subcommand word."""
    tokens = shlex.split(line)
    found = []
    for i, token in enumerate(tokens[:-1]):
        following = tokens[i + 1]
        if Path(token).name == "eki" and re.fullmatch(r"[a-z][a-z-]*", following) and \
                following != "eki":
            args = []
            for arg in tokens[i + 1:]:
                if arg in ("&&", "||", ";", "|", ">"):
                    break
                args.append(arg)
            found.append(args)
    return found


def test_deploy_guide_names_real_commands_and_settings(known: frozenset[str]) -> None:
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    mentioned = set(re.findall(r"\b(?:EKI|OPENAI)_[A-Z0-9_]+\b", text))
    assert mentioned and not unknown(mentioned, known), unknown(mentioned, known)
    commands: list[list[str]] = []
    language = None  # of the fenced block we are in
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            language = None if language is not None else stripped[3:] or "text"
            continue
        if language == "bash":
            commands.extend(shown_invocations(stripped.split(" #", 1)[0]))
    assert_commands_parse("docs/deploy.md", commands)
    for name in ("Dockerfile", "compose.yaml", "render.yaml", "Procfile"):
        assert name in text
    assert Path("deploy/systemd").as_posix() in text
