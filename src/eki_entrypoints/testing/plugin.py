"""Deprecated alias of :mod:`eki_testing.plugin` (see :mod:`eki_entrypoints.testing`)."""

import sys

import eki_testing.plugin

sys.modules[__name__] = eki_testing.plugin
