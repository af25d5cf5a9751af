"""What ``eki students import`` loads: package exports imported when first used (PEP 562),
the unit of work's repositories imported when first used, and one command group's module
per command line — with every public name, repository and command still there."""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import subprocess
import sys
import textwrap

import pytest

from eki_adapters.sql.uow import _REPOSITORIES, SqlUnitOfWork, load_repositories
from eki_entrypoints.cli.app import COMMANDS, GROUPS, build_parser, command_modules

#: The packages whose ``__init__`` exports names lazily (``_WHERE``: name -> module).
LAZY_PACKAGES = ["eki_domain", "eki_domain.model", "eki_domain.ports", "eki_domain.services",
                 "eki_adapters.sql"]


def _type_checking_imports(module_name: str) -> dict[str, str]:
    """name -> module of the ``from X import name`` under ``if TYPE_CHECKING:``."""
    module = importlib.import_module(module_name)
    tree = ast.parse(inspect.getsource(module))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom) and statement.module
                found.update({alias.name: statement.module for alias in statement.names})
    return found


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_lazy_exports_are_the_typed_ones_and_resolve(package: str) -> None:
    module = importlib.import_module(package)
    where: dict[str, str] = module._WHERE  # type: ignore[attr-defined]
    # What mypy sees (the TYPE_CHECKING imports) is what the module hands out.
    assert where == _type_checking_imports(package)
    assert set(where) <= set(module.__all__)
    for name in module.__all__:
        value = getattr(module, name)
        if name in where:
            assert value is getattr(importlib.import_module(where[name]), name), name
    assert set(module.__all__) <= set(dir(module))
    with pytest.raises(AttributeError, match="no_such_name"):
        getattr(module, "no_such_name")  # noqa: B009 - the module's __getattr__


def _modules_after(code: str) -> set[str]:
    script = textwrap.dedent(code) + "\nimport sys\nprint('\\n'.join(sorted(sys.modules)))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True)
    return set(done.stdout.split())


def test_importing_the_domain_loads_none_of_its_services() -> None:
    loaded = _modules_after("import eki_domain, eki_domain.model, eki_domain.ports, "
                            "eki_domain.services, eki_adapters.sql")
    assert not {m for m in loaded if m.startswith(("eki_domain.services.",
                                                   "eki_adapters.sql.", "sqlalchemy"))}
    # a public name loads its module (and what that module needs), no more
    loaded = _modules_after("from eki_domain import PhoneNumber")
    assert "eki_domain.model.phone" in loaded
    assert not {m for m in loaded if m.startswith("eki_domain.services.")}


def test_the_unit_of_work_loads_its_repositories_when_first_used() -> None:
    loaded = _modules_after("import eki_adapters.sql.uow")
    assert "eki_adapters.sql.students" not in loaded and "eki_adapters.sql.outbox" not in loaded
    load_repositories()
    for name in _REPOSITORIES:
        repository = vars(SqlUnitOfWork)[name].load()
        assert repository.__module__.startswith("eki_adapters.sql."), name
    assert len(_REPOSITORIES) >= 35


def test_students_import_command_line_loads_only_its_group() -> None:
    """What `eki students import` imports before it runs (the read-ahead's reader, the
    parser of its group, the import's own modules): no other command group, no web stack,
    no model client, no bootstrap of the whole application."""
    loaded = _modules_after('''
        from eki_entrypoints.cli.readahead import cli_reader
        cli_reader()
        from eki_entrypoints.cli.app import build_parser
        args = build_parser("students").parse_args(["students", "import", "lista.xlsx"])
        assert args.handler.__name__ == "cmd_students_import"
        import eki_adapters.sql.imports, eki_adapters.sql.staff
        import eki_domain.services.student_import, eki_domain.services.audit
        import eki_entrypoints.storage
    ''')
    forbidden = ("starlette", "uvicorn", "httpx", "httpx2", "openai", "jinja2", "argon2",
                 "pyotp", "redis", "openpyxl", "prometheus_client", "eki_entrypoints.bootstrap",
                 "eki_entrypoints.web", "eki_entrypoints.cli.alerts",
                 "eki_entrypoints.cli.guardians", "eki_entrypoints.cli.server",
                 "eki_domain.services.conversation", "eki_domain.services.consent",
                 "eki_adapters.sql.outbox", "eki_adapters.sql.inbox", "eki_adapters.memory",
                 "eki_adapters.understanding")
    assert not {m for m in loaded if m.startswith(forbidden)}


def _commands(parser: argparse.ArgumentParser) -> list[str]:
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return list(sub.choices)


def test_every_group_adds_the_commands_listed_for_it() -> None:
    assert [m.__name__ for m in command_modules("students")] == ["eki_entrypoints.cli.students"]
    assert len(command_modules("nope")) == len(GROUPS)
    everything = _commands(build_parser())
    assert everything == [c for commands in GROUPS.values() for c in commands]
    for command, module in COMMANDS.items():
        assert _commands(build_parser(command)) == list(GROUPS[module])
    for unknown in (None, "--help", "--version", "student", "-h"):
        assert _commands(build_parser(unknown)) == everything


@pytest.mark.parametrize("argv", [
    ["students", "import", "lista.xlsx", "--dry-run", "--json"],
    ["students", "list", "--active", "--limit", "5"],
    ["serve", "--port", "9000"],
    ["worker"],
    ["broadcast", "list"],
    ["progress", "import", "notas.xlsx", "--kind", "grades"],
])
def test_one_group_parses_a_command_line_as_the_whole_parser(argv: list[str]) -> None:
    whole = vars(build_parser().parse_args(argv))
    narrow = vars(build_parser(argv[0]).parse_args(argv))
    assert narrow == whole


@pytest.mark.parametrize("argv", [
    ["students", "import"], ["students", "nope"], ["students", "import", "a.xlsx", "--nope"],
    ["students", "import", "a.xlsx", "--version"], ["serve", "--port", "x"],
])
def test_one_group_refuses_a_command_line_as_the_whole_parser(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = []
    for parser in (build_parser(), build_parser(argv[0])):
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args(argv)
        outcomes.append((exit_info.value.code, capsys.readouterr()))
    assert outcomes[0] == outcomes[1]
