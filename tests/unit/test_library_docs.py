"""Every Python block of docs/library.md runs as written (each in a fresh namespace, as a
reader would paste it), the signatures of its reference name the parameters the code has,
and eki_domain's public surface is what the docs promise."""

from __future__ import annotations

import importlib.metadata
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

import eki_domain
from eki_adapters.openai import OpenAIChatModel
from eki_entrypoints.bootstrap import Eki, bootstrap
from tests.docs import python_blocks, runnable

DOC = Path(__file__).resolve().parents[2] / "docs" / "library.md"
BLOCKS = python_blocks(DOC)


def test_the_doc_has_examples() -> None:
    assert len(BLOCKS) >= 8
    assert len(BLOCKS) - len(runnable(BLOCKS)) <= 2  # blocks marked `# not run:` stay few


@pytest.mark.parametrize("block", runnable(BLOCKS),
                         ids=[f"block{i}" for i in range(len(runnable(BLOCKS)))])
def test_library_example_runs(block: str, capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {"__name__": "__doc_example__"}
    exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation


def test_public_names_resolve_and_version_is_single_sourced() -> None:
    for name in eki_domain.__all__:
        assert getattr(eki_domain, name) is not None, name
    assert eki_domain.__version__ == importlib.metadata.version("eki")
    for package in ("eki_domain", "eki_adapters", "eki_entrypoints"):
        root = Path(__import__(package).__file__ or "").parent
        assert (root / "py.typed").exists(), package


#: What the reference's signatures may start with.
NAMES: dict[str, Any] = {**{name: getattr(eki_domain, name) for name in eki_domain.__all__},
                         "OpenAIChatModel": OpenAIChatModel, "bootstrap": bootstrap,
                         "Eki": Eki}
SIGNATURE = re.compile(r"^(?:await )?([A-Z_a-z][\w.]*)\((.*)\)(?: -> .+)?$")


def _split(params: str) -> list[str]:
    """Top-level comma-separated parts (commas inside brackets or parentheses stay)."""
    parts, depth, current = [], 0, ""
    for char in params:
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [p.strip() for p in [*parts, current] if p.strip()]


def documented_signatures() -> list[tuple[str, list[str]]]:
    reference = DOC.read_text(encoding="utf-8").split("## Reference", 1)[1]
    found = []
    for span in re.findall(r"`([^`]+)`", reference):
        match = SIGNATURE.match(span)
        if match and match.group(1).split(".")[0] in NAMES:
            names = [re.sub(r"^\*{1,2}", "", p).split("=")[0].split(":")[0].strip()
                     for p in _split(match.group(2)) if p != "*"]
            found.append((match.group(1), names))
    return found


def _resolve(dotted: str) -> Any:
    head, *rest = dotted.split(".")
    target = NAMES[head]
    for part in rest:
        target = getattr(target, part)
    return target


def test_the_reference_signatures_match_the_code() -> None:
    signatures = documented_signatures()
    assert len(signatures) >= 25
    for dotted, documented in signatures:
        target = _resolve(dotted)
        if inspect.isclass(target):
            target = target.__init__
        actual = [name for name in inspect.signature(target).parameters if name != "self"]
        assert documented == actual, f"docs/library.md: {dotted}({', '.join(documented)})"
