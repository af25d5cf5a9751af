"""Deprecated: the test harness moved to :mod:`eki_testing` (it is not an entry point).

``eki_entrypoints.testing`` and each of its modules (``…testing.meta``, ``…testing.graph``,
``…testing.openai``, ``…testing.twilio``, ``…testing.http``, ``…testing.harness``,
``…testing.database``, ``…testing.plugin``) are the very ``eki_testing`` modules under
their old names, so old imports keep working; importing this package emits a
``DeprecationWarning``. Write ``eki_testing`` instead.
"""

from __future__ import annotations

import warnings

import eki_testing

warnings.warn(
    "eki_entrypoints.testing is deprecated: import eki_testing instead (same modules, "
    "same names; docs/testing.md)", DeprecationWarning, stacklevel=2)

__doc__ = f"{__doc__}\n{eki_testing.__doc__}"
