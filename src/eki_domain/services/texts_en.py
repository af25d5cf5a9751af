"""The rule-based responder's sentences in English: a question in English is answered in English.

The same answers as :class:`~eki_domain.services.texts.Texts`, with English number and date
formats ("4.3", "Monday, March 2"). Course names, titles and bands stay as the school wrote
them.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar, Final

from eki_domain.model.intent import Intent
from eki_domain.services.formatting import english_date, format_decimal, format_percent
from eki_domain.services.texts import Texts

__all__ = ["ENGLISH", "EnglishTexts"]


class EnglishTexts(Texts):
    language = "en"
    default_course = "Course"
    default_activity = "Activity"

    def decimal(self, value: Decimal) -> str:
        return format_decimal(value, english=True)

    def percent(self, value: Decimal) -> str:
        return format_percent(value, english=True)

    def day(self, value: date, *, year: bool = False) -> str:
        return english_date(value, year=year)

    def menu(self, first_name: str | None = None) -> str:
        ask = f"How can I help, {first_name}?" if first_name else "How can I help?"
        return (
            f"{ask} Type a number:\n"
            "*1* Grades and average\n"
            "*2* Attendance and absences\n"
            "*3* Pending work\n"
            "*4* My details\n"
            "*5* Talk to a person\n"
            "You can also ask in your own words, for example: _how am I doing in math?_"
        )

    def greeting(self, name: str) -> str:
        return f"Hi, {name}! 👋 I'm *EKI*, the school's assistant.\n\n{self.menu()}"

    def thanks(self, name: str) -> str:
        return f"You're welcome, {name}! 😊 If you need anything else, type *menu*."

    def farewell(self, name: str) -> str:
        return f"Bye, {name}! Have a great day 👋 I'm here whenever you need me."

    def opt_out_hint(self) -> str:
        return (
            "If you no longer want messages from EKI, type just the word *BAJA* (or STOP). "
            "To come back later, type *ALTA*."
        )

    def opt_in(self) -> str:
        return (
            "Welcome back! 🙌 You'll receive EKI's messages again. Type *menu* to "
            "see what I can do."
        )

    def opt_in_hint(self) -> str:
        return "To receive EKI's messages again, type just the word *ALTA* (or START)."

    def handoff(self) -> str:
        return (
            "Done 👍 I passed your message to the school team and a person will write to you "
            "here as soon as possible. Meanwhile I'll stop answering automatically in this chat."
        )

    def handoff_offer(self, name: str) -> str:
        return (
            f"{name}, would you like a person from the school to write to you? Type "
            "*5* and I'll pass your message on."
        )

    def cannot_modify(self, name: str) -> str:
        return (
            f"{name}, I can't change grades, absences or records: the school does that. If "
            "you think something is wrong, type *5* and I'll pass your message to a person."
        )

    def no_schoolwork(self, name: str) -> str:
        return (
            f"{name}, I don't do homework or give answers 😅 But I can tell you what's "
            "pending: type *3*."
        )

    def unknown(self, name: str) -> str:
        return f"Sorry, {name}, I didn't understand that 🤔\n\n{self.menu()}"

    _CHOICES: ClassVar[dict[Intent, tuple[str, str]]] = {
        Intent.PROGRESO: ("your grades", "1"),
        Intent.NOTAS: ("each of your grades", "1"),
        Intent.ASISTENCIA: ("your attendance", "2"),
        Intent.PENDIENTES: ("your pending work", "3"),
        Intent.MIS_DATOS: ("your details", "4"),
        Intent.HUMANO: ("talking to a person", "5"),
    }

    def clarify(self, name: str, first: Intent, second: Intent) -> str:
        (a, a_number), (b, b_number) = self.choices()[first], self.choices()[second]
        return (
            f"{name}, do you mean {a} or {b}? 🤔 Type *{a_number}* for {a} or *{b_number}* for "
            f"{b}, or *menu* to see everything."
        )

    _WHAT: ClassVar[dict[str, tuple[str, str, str]]] = {
        "grades": ("grades", "them", "your grades"),
        "attendance": ("attendance records", "them", "your attendance"),
        "pending": ("assignments", "them", "your pending work"),
        "profile": ("your details", "them", "your details"),
    }

    def not_loaded(self, name: str, what: str) -> str:
        thing, pronoun, _ = self._WHAT[what]
        return (
            f"{name}, the school hasn't loaded {thing} into EKI yet 📭 As soon as they're in, "
            f"I'll show {pronoun} to you here. Meanwhile, you can ask your teacher."
        )

    def try_later(self, what: str) -> str:
        return f"I couldn't check {self._WHAT[what][2]} right now 😕 Please try again in a while."

    _SEE: ClassVar[dict[str, tuple[str, str]]] = {
        "grades": ("1", "your grades"),
        "attendance": ("2", "your attendance"),
    }

    def course_not_found(self, course: str | None, what: str, names: list[str]) -> str:
        option, see = self._SEE[what]
        text = f"I couldn't find the course *{course or 'you wrote'}* 🤔"
        if names:
            return (
                f"{text} Your courses are: {', '.join(names[:12])}. Type *{option}* to "
                f"see {see}."
            )
        return f"{text} Check the spelling or type *{option}* to see {see}."

    def more(self, count: int, what: str) -> str:
        noun = {"courses": "courses", "pending": "items", "grades": "grades"}[what]
        return f"…and {count} more {noun}."

    def no_grades(self, name: str) -> str:
        return (
            f"I don't have any grades for you yet, {name}. When the school loads "
            "them, I'll show them here 📚"
        )

    def progress_heading(self, name: str) -> str:
        return f"📊 *Your grades*, {name}"

    def no_grades_yet(self) -> str:
        return "no grades yet"

    def graded_of(self, graded: int, total: int) -> str:
        return f" · {graded} of {total} graded"

    def failing(self) -> str:
        return " · currently failing"

    def overall(self, value: Decimal) -> str:
        return f"*Overall average:* {self.decimal(value)}"

    def failing_tip(self) -> str:
        return (
            "If you'd like support with the ones you're failing, type *5* and I'll "
            "connect you with an advisor 💪"
        )

    def grades_heading(self, name: str) -> str:
        return f"📝 *Your grades, activity by activity*, {name}"

    def grade_pending(self) -> str:
        return "pending"

    def grade_excused(self) -> str:
        return "excused"

    def no_activities(self) -> str:
        return "no graded activities yet"

    def no_attendance(self, name: str) -> str:
        return (
            f"I don't have attendance records for you yet, {name}. When the school "
            "loads them, I'll tell you here 🗓️"
        )

    def attendance_heading(self, name: str) -> str:
        return f"🗓️ *Your attendance*, {name}"

    def no_sessions(self) -> str:
        return "no attendance taken yet"

    def absences(self, count: int) -> str:
        return self.count(count, "absence", "absences") if count else "no absences"

    def with_excuse(self, count: int) -> str:
        return f" ({count} excused)"

    def late(self, count: int) -> str:
        return self.count(count, "late arrival", "late arrivals")

    def rate(self, value: Decimal) -> str:
        return f" · attendance {self.percent(value)}"

    def attendance_pending_load(self) -> str:
        return "When the school loads attendance, I'll tell you here 🗓️"

    def no_absences(self) -> str:
        return "Great job, you have no absences! 👏"

    def total_absences(self, total: int) -> str:
        return f"*Total:* {self.count(total, 'absence', 'absences')}"

    def total_late(self, total: int) -> str:
        return f"*Late arrivals:* {total}"

    def total_excused(self, total: int) -> str:
        return f"*Excused absences:* {total}"

    def none_pending_in(self, course: str, others: int) -> str:
        text = f"You have nothing pending in *{course}* 🙌"
        if others:
            text += (
                f" In other courses you have {self.count(others, 'item', 'items')}: "
                "type *3* to see them."
            )
        return text

    def up_to_date(self, name: str) -> str:
        return f"You're all caught up, {name}! Nothing pending 🙌"

    def pending_heading(self, name: str, count: int) -> str:
        return f"📝 *You have {self.count(count, 'pending item', 'pending items')}*, {name}"

    def undated(self) -> str:
        return "no due date"

    def due_today(self) -> str:
        return "due *today*"

    def due_tomorrow(self) -> str:
        return "due *tomorrow*"

    def overdue(self, day: date) -> str:
        return f"was due {self.day(day)}"

    def due_on(self, day: date) -> str:
        return f"due {self.day(day)}"

    def period(self, name: str) -> str:
        return f"_Period {name}_"

    def profile_not_found(self) -> str:
        return (
            "I couldn't find your record right now 😕 If you think this is a "
            "mistake, contact the school office."
        )

    def profile_heading(self) -> str:
        return "👤 *Your details in EKI*"

    def profile_name(self, value: str) -> str:
        return f"• Name: {value}"

    def profile_phone(self, value: str) -> str:
        return f"• Phone: {value}"

    def profile_groups(self, values: list[str]) -> str:
        return f"• Groups: {', '.join(values)}"

    def profile_registered(self, value: date) -> str:
        return f"• Registered on: {self.day(value, year=True)}"

    def profile_inactive(self) -> str:
        return "• Status: inactive"

    def profile_fix(self) -> str:
        return "If anything is wrong, ask the school office to correct it."


#: The English catalogue (a question written in English).
ENGLISH: Final = EnglishTexts()
