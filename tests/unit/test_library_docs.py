"""Every Python block of docs/library.md runs as written (each in a fresh namespace, as a
reader would paste it), and eki_domain's public surface is what the docs promise."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest

import eki_domain

DOC = Path(__file__).resolve().parents[2] / "docs" / "library.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


def test_the_doc_has_examples() -> None:
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
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
