"""Readers for the deploy files (Dockerfile, compose.yaml, render.yaml, Procfile, systemd
units): the commands they run and the variables they set, for tests/unit/test_deploy_files.py.

PyYAML is not a dependency of EKI (nor of its dev tools), and adding one only to read two
files of our own is not worth it: :func:`parse_yaml` reads the small YAML subset those files
use — block mappings and sequences, plain and quoted scalars, JSON-style flow sequences,
comments — and refuses anything else (anchors, block scalars, flow mappings, tabs), so a
file that grows past the subset fails loudly instead of being misread.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

#: Settings a deploy file may set before eki_entrypoints.settings reads them (none now: issue
#: 19's EKI_REDIS_URL is a setting). Drop a name from here once settings.py reads it.
PENDING_SETTINGS: frozenset[str] = frozenset()

#: Variables the files may set that are not EKI settings: the platform's or Python's own.
GENERIC_VARIABLES = frozenset({
    "PORT", "PATH", "PYTHON_VERSION", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE",
    "PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK",
})


# -- what EKI knows ---------------------------------------------------------------------------


def cli_parser() -> Any:
    """The argparse parser of the ``eki`` command (the one import to adapt if cli moves)."""
    from eki_entrypoints.cli import build_parser

    return build_parser()


def known_settings() -> frozenset[str]:
    """Every environment variable ``Settings.from_env`` reads: recorded while it reads an
    empty environment (the one lookup to adapt when settings get a registry)."""
    from eki_entrypoints.settings import Settings

    names: set[str] = set()

    class Recorder(dict[str, str]):
        def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
            names.add(key)
            return default

        def __getitem__(self, key: str) -> str:
            names.add(key)
            raise KeyError(key)

        def __contains__(self, key: object) -> bool:
            names.add(str(key))
            return False

    Settings.from_env(Recorder())
    return frozenset(names) | PENDING_SETTINGS


def cli_error(args: list[str]) -> str | None:
    """None when ``eki ARGS`` parses, else argparse's message."""
    parser = cli_parser()
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(args)
    except SystemExit as exc:
        return f"exit {exc.code}: {stderr.getvalue().strip()}"
    return None


# -- commands ---------------------------------------------------------------------------------

_SEPARATORS = {"&&", "||", ";", "|"}


def _substitute(token: str) -> str:
    """Shell and systemd placeholders → a sample value argparse accepts."""
    token = re.sub(r"\$\{PORT(:-\d+)?\}|\$PORT\b", "8000", token)
    return token.replace("%i", "1")


def eki_invocations(command: str | list[str]) -> list[list[str]]:
    """The argument lists of every ``eki …`` in a command (string or exec array), looking
    inside ``sh -c '…'``; ``exec eki``, ``/opt/x/bin/eki`` count too."""
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    if len(argv) >= 3 and Path(argv[0]).name in ("sh", "bash") and argv[1] == "-c":
        return eki_invocations(argv[2])
    found: list[list[str]] = []
    segment: list[str] = []
    for token in [*argv, ";"]:
        if token in _SEPARATORS:
            word = _command_word(segment)
            if word is not None and Path(segment[word]).name == "eki":
                found.append([_substitute(t) for t in segment[word + 1:]])
            segment = []
        else:
            segment.append(token)
    return found


def _command_word(segment: list[str]) -> int | None:
    """Index of the program a simple command runs, past ``exec``, ``sudo -u USER``,
    ``env`` and ``NAME=value`` prefixes."""
    i = 0
    while i < len(segment):
        token = segment[i]
        if token in ("exec", "env", "sudo") or re.fullmatch(r"[A-Za-z_]\w*=.*", token):
            i += 1
        elif token == "-u" and i > 0 and segment[i - 1] == "sudo":
            i += 2
        else:
            return i
    return None


# -- YAML subset ------------------------------------------------------------------------------

class YamlSubsetError(ValueError):
    """The text is outside the YAML subset :func:`parse_yaml` reads."""


_MAP_ENTRY = re.compile(r"^[A-Za-z_][\w.-]*:(?: |$)")


def _strip_comment(line: str) -> str:
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def _scalar(text: str) -> Any:
    if text[0] in "&*!|>{%@`":
        raise YamlSubsetError(f"YAML outside the supported subset: {text!r}")
    if text[0] in "[\"":
        return json.loads(text)
    if text[0] == "'":
        if len(text) < 2 or not text.endswith("'"):
            raise YamlSubsetError(f"unterminated quote: {text!r}")
        return text[1:-1].replace("''", "'")
    if text in ("true", "false"):
        return text == "true"
    if text in ("null", "~"):
        return None
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def parse_yaml(text: str) -> Any:
    lines: list[tuple[int, str]] = []
    for raw in text.splitlines():
        body = raw.lstrip(" ")
        if body.startswith("\t"):
            raise YamlSubsetError("tabs in indentation")
        stripped = _strip_comment(raw)
        if stripped.strip():
            lines.append((len(stripped) - len(stripped.lstrip(" ")), stripped.strip()))
    if not lines:
        return None
    value, end = _block(lines, 0, lines[0][0])
    if end != len(lines):
        raise YamlSubsetError(f"unexpected indentation at {lines[end][1]!r}")
    return value


def _is_item(text: str) -> bool:
    return text == "-" or text.startswith("- ")


def _block(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[Any, int]:
    if _is_item(lines[i][1]):
        return _sequence(lines, i, indent)
    return _mapping(lines, i, indent)


def _mapping(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[dict[Any, Any], int]:
    out: dict[Any, Any] = {}
    while i < len(lines) and lines[i][0] == indent and not _is_item(lines[i][1]):
        text = lines[i][1]
        if not _MAP_ENTRY.match(text):
            raise YamlSubsetError(f"not a 'key: value' line: {text!r}")
        key, _, rest = text.partition(":")
        if key in out:
            raise YamlSubsetError(f"duplicate key {key!r}")
        rest = rest.strip()
        i += 1
        if rest:
            out[key] = _scalar(rest)
        elif i < len(lines) and lines[i][0] > indent:
            out[key], i = _block(lines, i, lines[i][0])
        elif i < len(lines) and lines[i][0] == indent and _is_item(lines[i][1]):
            out[key], i = _sequence(lines, i, indent)  # a sequence level with its key
        else:
            out[key] = None
    return out, i


def _sequence(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    while i < len(lines) and lines[i][0] == indent and _is_item(lines[i][1]):
        text = lines[i][1][1:].lstrip(" ")
        if not text:
            i += 1
            if i >= len(lines) or lines[i][0] <= indent:
                raise YamlSubsetError("empty sequence item")
            item, i = _block(lines, i, lines[i][0])
        elif _MAP_ENTRY.match(text):  # "- key: value" opens a mapping at the key's column
            column = indent + len(lines[i][1]) - len(text)
            lines[i] = (column, text)
            item, i = _mapping(lines, i, column)
        else:
            item, i = _scalar(text), i + 1
        out.append(item)
    return out, i


def read_yaml(name: str) -> Any:
    return parse_yaml((ROOT / name).read_text(encoding="utf-8"))


# -- Dockerfile, Procfile, systemd ------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        instruction, _, args = full.partition(" ")
        out.append((instruction.upper(), args.strip()))
    return out


def exec_or_shell(args: str) -> str | list[str]:
    """A Dockerfile CMD/RUN argument: the JSON exec form as a list, else the shell string."""
    return list(json.loads(args)) if args.startswith("[") else args


def env_assignments(args: str) -> list[str]:
    """Variable names of a Dockerfile ``ENV`` or a systemd ``Environment=`` value."""
    return [token.split("=", 1)[0] for token in shlex.split(args) if "=" in token]


def read_unit(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) of a systemd unit file, in order (repeated keys kept)."""
    out: list[tuple[str, str, str]] = []
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path.name}: not a key=value line: {line!r}")
        out.append((section, key.strip(), value.strip()))
    return out


def env_file_names(path: Path) -> list[str]:
    """Names set by a KEY=VALUE environment file (comments and blank lines skipped)."""
    names = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            name, sep, _ = line.partition("=")
            if not sep or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
                raise ValueError(f"{path.name}: not a KEY=VALUE line: {line!r}")
            names.append(name)
    return names


def unknown(names: Iterable[str], known: frozenset[str]) -> list[str]:
    return sorted({n for n in names if n not in known and n not in GENERIC_VARIABLES})
