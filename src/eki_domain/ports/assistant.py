"""The assistant port: whatever answers a student's message (rules, an LLM…)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import attrs

from eki_domain.model.student import Student
from eki_domain.ports.llm import ToolSpec

JsonDict = dict[str, Any]


class StudentToolbox(Protocol):
    """Tools bound to one student: they take no identity argument, so whoever calls
    them (rules or an LLM) can only ever see that student's data."""

    def names(self) -> tuple[str, ...]:
        """The tools available, e.g. ``("get_my_profile",)``."""
        ...

    def schemas(self) -> Sequence[ToolSpec]:
        """What a language model is told about the tools that have a spec (a toolbox
        for rules only may return none)."""
        ...

    async def call(self, name: str, arguments: Mapping[str, Any] | None = None) -> JsonDict:
        """Run a tool and return a compact JSON-able dict. Unknown names or bad
        arguments raise ``ValueError`` with a message fit to show the caller."""
        ...


@attrs.frozen
class Turn:
    """One thing a student said (a burst of messages is joined into one text)."""

    student: Student
    text: str
    payload: str | None = None  # id of a tapped button / list row, when that is what it was
    #: The first name of the guardian who writes about ``student`` (None: the student writes).
    guardian: str | None = None


@attrs.frozen
class AssistantReply:
    text: str
    intent: str
    tools: tuple[str, ...] = ()


class Assistant(Protocol):
    async def answer(self, turn: Turn, tools: StudentToolbox) -> AssistantReply: ...
