"""Deprecated alias of :mod:`eki_testing.database` (see :mod:`eki_entrypoints.testing`)."""

import sys

import eki_testing.database

sys.modules[__name__] = eki_testing.database
