"""Reading the Python examples of the documentation (docs/library.md, docs/testing.md).

Every fenced ```python block is an example the suite executes. A block that must not run
(a fragment, something needing a real provider) starts with the marker comment
:data:`NOT_RUN`, followed by the reason; keep those few.
"""

from __future__ import annotations

import re
from pathlib import Path

NOT_RUN = "# not run:"
_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def python_blocks(path: Path) -> list[str]:
    """Every ```python block of ``path``, in order."""
    return _BLOCK.findall(path.read_text(encoding="utf-8"))


def runnable(blocks: list[str]) -> list[str]:
    """The blocks without the :data:`NOT_RUN` marker."""
    return [block for block in blocks if not block.startswith(NOT_RUN)]
