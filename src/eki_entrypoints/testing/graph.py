"""Deprecated alias of :mod:`eki_testing.graph` (see :mod:`eki_entrypoints.testing`)."""

import sys

import eki_testing.graph

sys.modules[__name__] = eki_testing.graph
