"""``eki_entrypoints.testing`` is the deprecated alias of ``eki_testing``: old imports keep
working (the very same modules) and say so with a DeprecationWarning."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator

import pytest

import eki_testing
import eki_testing.graph
import eki_testing.meta
import eki_testing.plugin

MODULES = ("meta", "graph", "openai", "twilio", "http", "harness", "database", "plugin")


@pytest.fixture
def fresh_alias() -> Iterator[None]:
    """The alias as if never imported (a warning is emitted once per import)."""
    def forget() -> None:
        for name in [n for n in sys.modules if n.startswith("eki_entrypoints.testing")]:
            del sys.modules[name]
    forget()
    yield
    forget()


@pytest.mark.usefixtures("fresh_alias")
def test_the_old_package_warns_and_is_the_new_one() -> None:
    with pytest.warns(DeprecationWarning, match="import eki_testing instead"):
        old = importlib.import_module("eki_entrypoints.testing")
    assert eki_testing.__doc__ is not None and eki_testing.__doc__ in (old.__doc__ or "")


@pytest.mark.usefixtures("fresh_alias")
@pytest.mark.parametrize("name", MODULES)
def test_every_old_module_is_the_new_module(name: str) -> None:
    with pytest.warns(DeprecationWarning, match="eki_testing"):
        old = importlib.import_module(f"eki_entrypoints.testing.{name}")
    assert old is importlib.import_module(f"eki_testing.{name}")


@pytest.mark.usefixtures("fresh_alias")
def test_old_from_imports_give_the_same_classes() -> None:
    with pytest.warns(DeprecationWarning, match="eki_testing"):
        from eki_entrypoints.testing.graph import FakeGraphAPI
    from eki_entrypoints.testing import meta
    assert meta is eki_testing.meta
    assert FakeGraphAPI is eki_testing.graph.FakeGraphAPI


def test_the_pytest_plugin_is_the_new_module() -> None:
    from importlib.metadata import entry_points

    [plugin] = [ep for ep in entry_points(group="pytest11") if ep.name == "eki"]
    assert plugin.value == "eki_testing.plugin"
    assert plugin.load() is eki_testing.plugin
