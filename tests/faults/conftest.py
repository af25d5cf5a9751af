"""The fault suite (issue 19 item 6): EKI under failures of what it depends on. Every test
here is marked ``faults`` (``pytest -m faults`` runs them alone, ``-m "not faults"`` skips
them) and ``serial`` (scripts/test runs them after the parallel run, one at a time: their
time bounds and the PostgreSQL restart must not share the machine with other tests), and
finishes in under 60 s. Outages are shorter than the issue's 60 s to keep CI
fast; what they prove (retry, order, no duplicates, fallback) does not depend on length."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.serial)
