"""Deprecated alias of :mod:`eki_testing.http` (see :mod:`eki_entrypoints.testing`)."""

import sys

import eki_testing.http

sys.modules[__name__] = eki_testing.http
