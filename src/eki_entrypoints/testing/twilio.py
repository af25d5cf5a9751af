"""Deprecated alias of :mod:`eki_testing.twilio` (see :mod:`eki_entrypoints.testing`)."""

import sys

import eki_testing.twilio

sys.modules[__name__] = eki_testing.twilio
