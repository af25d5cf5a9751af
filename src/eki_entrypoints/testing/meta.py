"""Deprecated alias of :mod:`eki_testing.meta` (see :mod:`eki_entrypoints.testing`)."""

import sys

import eki_testing.meta

sys.modules[__name__] = eki_testing.meta
