"""Lazy package exports (PEP 562), shared by the packages whose ``__init__`` names what
their modules define: a name's module is imported when the name is first used, so a program
that needs a few of them (``eki students import``) does not load the whole package.
``from package import X`` and ``package.X`` work as before; type checkers read the names
from the package's ``if TYPE_CHECKING:`` imports."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any


def lazy_exports(namespace: MutableMapping[str, Any],
                 exports: Mapping[str, Sequence[str]],
                 ) -> tuple[dict[str, str], Callable[[str], Any], Callable[[], list[str]]]:
    """For a package's ``globals()`` and ``{module: names it exports}``: where each name is
    defined, and the package's ``__getattr__`` and ``__dir__``."""
    where = {name: module for module, names in exports.items() for name in names}
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # next time, a plain module attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *where})

    return where, __getattr__, __dir__
