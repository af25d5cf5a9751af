"""The student's tools: plain functions bound to one student id.

The rule-based responder and the LLM both answer through these, and because no tool
takes a student id or a phone, neither can reach another student's data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from eki_domain.ports.assistant import JsonDict
from eki_domain.ports.repositories import UnitOfWorkFactory

Tool = Callable[..., Awaitable[JsonDict]]


class StudentTools:
    """The toolbox of one student. Register more tools with :meth:`register`."""

    def __init__(self, student_id: int, uow: UnitOfWorkFactory) -> None:
        self._student_id = student_id
        self._uow = uow
        self._tools: dict[str, Tool] = {"get_my_profile": self.get_my_profile}

    def register(self, name: str, tool: Tool) -> None:
        self._tools[name] = tool

    def names(self) -> tuple[str, ...]:
        return tuple(self._tools)

    async def call(self, name: str, arguments: Mapping[str, Any] | None = None) -> JsonDict:
        tool = self._tools.get(name)
        if tool is None:
            raise ValueError(f"unknown tool {name!r}; available: {', '.join(self._tools)}")
        try:
            return await tool(**dict(arguments or {}))
        except TypeError as exc:
            raise ValueError(f"bad arguments for {name}: {exc}") from None

    async def get_my_profile(self) -> JsonDict:
        """The student's own record: name, phone (masked), active, tags."""
        async with self._uow() as uow:
            student = await uow.students.get(self._student_id)
        if student is None:
            return {"found": False}
        return {
            "found": True,
            "name": student.name,
            "first_name": student.first_name,
            "phone": student.phone.masked,
            "active": student.active,
            "tags": sorted(student.tags),
            "registered_on": student.registered_at.date().isoformat(),
        }
