"""Who a sender is and whom the answer is about: the *party* and the *subject*.

A phone resolves to a party: a student, a guardian (linked to students with access flags),
both, or nobody. A conversation with a guardian has a subject — the student the answer is
about — chosen by the guardian ("2", "Luis", "¿y Ana?", "ahora Luis") and remembered for
``choice_hours``. The student tools are bound to the subject; a language model may switch it
only through ``select_student(name)``, which matches among the linked children alone.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Final, Protocol

import attrs

from eki_domain.model.guardian import Child, Guardian, SubjectMemory
from eki_domain.model.intent import Intent
from eki_domain.model.phone import phone_candidates
from eki_domain.model.student import Student
from eki_domain.ports.assistant import JsonDict, StudentToolbox
from eki_domain.ports.clock import Clock
from eki_domain.ports.guardians import Guardians
from eki_domain.ports.llm import ToolSpec
from eki_domain.ports.repositories import StudentRepository, Transaction
from eki_domain.services import family_texts

#: Intents whose answer shows grades or attendance (refused without ``may_see_grades``).
GRADE_INTENTS: Final = frozenset({Intent.PROGRESO, Intent.NOTAS, Intent.ASISTENCIA})
#: Tools that show grades or attendance.
GRADE_TOOLS: Final = frozenset({"get_my_progress", "get_my_grades", "get_my_attendance"})
#: Intents that ask for a child's data (remembered to be answered after the choice).
DATA_INTENTS: Final = GRADE_INTENTS | {Intent.PENDIENTES, Intent.MIS_DATOS, Intent.DESCONOCIDO}
LIST_TOOL: Final = "list_my_students"
SELECT_TOOL: Final = "select_student"

_FILLER: Final = frozenset((
    "y", "e", "ahora", "de", "del", "sobre", "con", "para", "a", "al", "el", "la", "los",
    "las", "mi", "mis", "hijo", "hija", "hijos", "nino", "nina", "que", "tal", "pues",
    "entonces", "por", "favor", "ok", "okay", "listo", "quiero", "quisiera", "consultar",
    "ver", "hablar", "es", "opcion", "numero", "preguntar", "pregunto", "mejor", "mas", "bien",
    "cambia", "cambiar",
))
_SELF: Final = frozenset({"yo", "mio", "mia"})
_WORD: Final = re.compile(r"[a-z0-9ñ]+")


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("ñ", "\0"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).replace("\0", "ñ")
    return plain


def _words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


class SubjectUnitOfWork(Transaction, Protocol):
    @property
    def students(self) -> StudentRepository: ...

    @property
    def guardians(self) -> Guardians: ...


@attrs.frozen
class Party:
    """A sender who is a guardian (and maybe a student too): the children to choose from
    (the sender's own record first when both roles) and the conversation memory."""

    guardian: Guardian
    student: Student | None
    options: tuple[Child, ...]
    memory: SubjectMemory


@attrs.frozen
class Plan:
    """What the conversation does with a guardian's turn: ``reply`` directly, or answer
    ``text`` about ``subject``."""

    memory: SubjectMemory
    reply: str | None = None
    intent: str | None = None
    subject: Child | None = None
    text: str = ""


def match_child(text: str, options: Sequence[Child], *, numbers: bool
                ) -> tuple[Child | None, bool]:
    """The child a text names (and whether the text only names it: "¿y Ana?", "2",
    "ahora Luis"). A number counts only when ``numbers`` (a choice was asked)."""
    words = _words(text)
    if numbers and len(words) <= 2 and words and words[-1].isdigit():
        index = int(words[-1]) - 1
        if 0 <= index < len(options) and all(w in _FILLER for w in words[:-1]):
            return options[index], True
    best: list[tuple[int, Child]] = []
    for child in options:
        name_words = set(_words(child.student.name))
        hits = len(name_words & set(words))
        first = _words(child.student.first_name)
        if child.link is None and _SELF & set(words) and len(words) <= 3:
            hits = max(hits, 1)
        elif not first or first[0] not in words:
            continue
        if hits:
            best.append((hits, child))
    if not best:
        return None, False
    top = max(score for score, _ in best)
    winners = [child for score, child in best if score == top]
    if len(winners) != 1:
        return None, False
    chosen = winners[0]
    rest = [w for w in words if w not in _FILLER and w not in _SELF
            and w not in set(_words(chosen.student.name))]
    return chosen, not rest


class FamilyDesk:
    """Resolves guardians and plans their turns (rules); the memory lives in the
    ``guardians`` port."""

    def __init__(self, uow: Callable[[], SubjectUnitOfWork], clock: Clock, *,
                 choice_hours: float = 12.0) -> None:
        self._uow = uow
        self._clock = clock
        self._window = timedelta(hours=choice_hours)

    async def party(self, wa_id: str, student: Student | None) -> Party | None:
        """The guardian behind ``wa_id`` with their active children; None when the sender
        is no guardian (or has no active child)."""
        candidates = phone_candidates(wa_id) or ("+" + wa_id,)
        async with self._uow() as uow:
            guardian = await uow.guardians.find_by_phones(candidates)
            if guardian is None or guardian.id is None or not guardian.active:
                return None
            options: list[Child] = []
            if student is not None and student.active:
                options.append(Child(student, None))
            for link in await uow.guardians.links_of_guardian(guardian.id):
                kid = await uow.students.get(link.student_id)
                if kid is not None and kid.active and kid.id != (student.id if student else None):
                    options.append(Child(kid, link))
            memory = await uow.guardians.memory(guardian.id)
        if not any(child.link is not None for child in options):
            return None
        return Party(guardian, student, tuple(options), memory)

    def plan(self, party: Party, text: str, intent: Intent) -> Plan:
        now = self._clock.now()
        memory = party.memory
        ids = {child.student.id: child for child in party.options}
        current = ids.get(memory.student_id) if (
            memory.chosen_at is not None and memory.chosen_at + self._window > now) else None
        asked = memory.question if (
            memory.asked_at is not None and memory.asked_at + self._window > now) else None
        awaiting = current is None and asked is not None
        chosen, only = match_child(text, party.options, numbers=awaiting)
        if len(party.options) == 1 and chosen is None:
            chosen = party.options[0]
        if chosen is not None:
            chosen_memory = attrs.evolve(memory, student_id=chosen.student.id, chosen_at=now)
            if only and chosen is not current:
                if asked is None:
                    return Plan(chosen_memory, reply=family_texts.selected(
                        chosen.student.first_name), intent="student_selected", subject=chosen)
                return self._answer(chosen_memory, chosen, asked, _intent_of(asked))
            if only and asked is not None:
                return self._answer(chosen_memory, chosen, asked, _intent_of(asked))
            return self._answer(chosen_memory, chosen, text, intent)
        if current is not None:
            return self._answer(memory, current, text, intent)
        names = [child.student.first_name for child in party.options]
        return Plan(attrs.evolve(memory, question=text[:1000], asked_at=now, student_id=None,
                                 chosen_at=None),
                    reply=family_texts.choose_prompt(party.guardian.first_name, names),
                    intent="choose_student")

    def _answer(self, memory: SubjectMemory, child: Child, text: str, intent: Intent) -> Plan:
        if intent in DATA_INTENTS:
            memory = attrs.evolve(memory, question=text[:1000], asked_at=self._clock.now())
        if intent in GRADE_INTENTS and not child.may_see_grades:
            return Plan(memory, reply=family_texts.grades_restricted(child.student.first_name),
                        intent="grades_restricted", subject=child)
        return Plan(memory, subject=child, text=text)

    async def remember(self, party: Party, memory: SubjectMemory) -> None:
        if memory == party.memory or party.guardian.id is None:
            return
        async with self._uow() as uow:
            await uow.guardians.remember(party.guardian.id, memory)
            await uow.commit()


def _intent_of(text: str) -> Intent:
    from eki_domain.services.intents import detect_intent
    return detect_intent(text, None)


_NAME: Final[JsonDict] = {"type": "string",
                          "description": "The child's first name as the guardian wrote it."}
SUBJECT_SCHEMAS: Final[dict[str, ToolSpec]] = {
    LIST_TOOL: ToolSpec(
        name=LIST_TOOL,
        description="The first names of the students this guardian may ask about, and which "
        "one the conversation is about now. Use when the guardian asks about 'mis hijos'.",
        parameters={"type": "object", "properties": {}, "required": [],
                    "additionalProperties": False},
        strict=True),
    SELECT_TOOL: ToolSpec(
        name=SELECT_TOOL,
        description="Switch the conversation to another of this guardian's own children, by "
        "first name, before calling the other tools (e.g. '¿y Luis?'). Only the guardian's "
        "linked children can be selected; anyone else gives 'no encontrado'.",
        parameters={"type": "object", "properties": {"name": _NAME}, "required": ["name"],
                    "additionalProperties": False},
        strict=True),
}


class SubjectToolbox:
    """The five student tools bound to the conversation's subject, plus ``list_my_students``
    and ``select_student``. Grades and attendance of a child the guardian may not see give
    a polite refusal instead."""

    def __init__(self, options: Sequence[Child], current: Child,
                 make: Callable[[int], StudentToolbox]) -> None:
        self._options = tuple(options)
        self.current = current
        self._make = make
        self._inner = make(current.student.id or 0)

    def names(self) -> tuple[str, ...]:
        return (*self._inner.names(), LIST_TOOL, SELECT_TOOL)

    def schemas(self) -> Sequence[ToolSpec]:
        return [*self._inner.schemas(), *SUBJECT_SCHEMAS.values()]

    async def call(self, name: str, arguments: Mapping[str, Any] | None = None) -> JsonDict:
        args = dict(arguments or {})
        if name == LIST_TOOL:
            if args:
                raise ValueError(f"{LIST_TOOL} takes no arguments")
            return {"students": [child.student.first_name for child in self._options],
                    "current": self.current.student.first_name}
        if name == SELECT_TOOL:
            wanted = args.get("name")
            if set(args) != {"name"} or not isinstance(wanted, str):
                raise ValueError(f"{SELECT_TOOL} takes one text argument, name")
            chosen, _ = match_child(wanted[:100], self._options, numbers=False)
            if chosen is None:
                return {"found": False, "error": family_texts.NOT_FOUND}
            if chosen is not self.current:
                self.current = chosen
                self._inner = self._make(chosen.student.id or 0)
            return {"found": True, "selected": chosen.student.first_name}
        if name in GRADE_TOOLS and not self.current.may_see_grades:
            return {"restricted": True, "message": family_texts.grades_restricted(
                self.current.student.first_name)}
        return await self._inner.call(name, args)


__all__ = ["FamilyDesk", "Party", "Plan", "SubjectToolbox", "match_child"]
