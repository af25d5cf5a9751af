"""Deprecated alias of :mod:`eki_testing.harness` (see :mod:`eki_entrypoints.testing`)."""

import sys

import eki_testing.harness

sys.modules[__name__] = eki_testing.harness
