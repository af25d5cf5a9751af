"""Deprecated alias of :mod:`eki_testing.openai` (see :mod:`eki_entrypoints.testing`)."""

import sys

import eki_testing.openai

sys.modules[__name__] = eki_testing.openai
