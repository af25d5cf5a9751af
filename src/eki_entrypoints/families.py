"""Families and verification codes as the CLI, the API and the admin site share them: the
services wired from an :class:`Eki`, the JSON shapes, and the codes spreadsheet."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any, cast

from eki_adapters.spreadsheets.errors_file import inert_xlsx_cell
from eki_domain.model.codes import CodePurpose, VerificationCode
from eki_domain.model.student import Student
from eki_domain.services.codes import CodeDesk, CodeUnitOfWork, IssuedCode
from eki_domain.services.families import (
    FamilyLink,
    FamilyService,
    FamilyUnitOfWork,
    GuardianCard,
)
from eki_entrypoints.bootstrap import Eki

CODES_HEADERS = ("Estudiante", "Etiquetas", "Código", "Vence", "Para")


def family_service(eki: Eki) -> FamilyService:
    return FamilyService(cast(Callable[[], FamilyUnitOfWork], eki.uow), eki.clock,
                         region=eki.settings.default_country)


def code_desk(eki: Eki) -> CodeDesk:
    return CodeDesk(cast(Callable[[], CodeUnitOfWork], eki.uow), eki.clock,
                    days=eki.settings.code_days, approval=eki.settings.code_approval)


def link_to_dict(item: FamilyLink) -> dict[str, Any]:
    return {"guardian": item.guardian.name, "phone": item.guardian.phone.e164,
            "active": item.guardian.active, "student": item.student.name,
            "student_phone": item.student.phone.e164,
            "relationship": item.link.relationship.value,
            "may_see_grades": item.link.may_see_grades,
            "may_receive_alerts": item.link.may_receive_alerts,
            "priority": item.link.priority}


def student_link_dict(item: FamilyLink) -> dict[str, Any]:
    """A link seen from the guardian: the student's side and the flags."""
    return {"student_id": item.student.id, "name": item.student.name,
            "phone": item.student.phone.e164, "relationship": item.link.relationship.value,
            "may_see_grades": item.link.may_see_grades,
            "may_receive_alerts": item.link.may_receive_alerts,
            "priority": item.link.priority}


def guardian_link_dict(item: FamilyLink) -> dict[str, Any]:
    """A link seen from the student: the guardian's side and the flags."""
    return {"guardian_id": item.guardian.id, "name": item.guardian.name,
            "phone": item.guardian.phone.e164, "active": item.guardian.active,
            "relationship": item.link.relationship.value,
            "may_see_grades": item.link.may_see_grades,
            "may_receive_alerts": item.link.may_receive_alerts,
            "priority": item.link.priority}


def card_to_dict(card: GuardianCard) -> dict[str, Any]:
    guardian = card.guardian
    return {"id": guardian.id, "name": guardian.name, "phone": guardian.phone.e164,
            "wa_id": guardian.phone.wa_id, "active": guardian.active,
            "created_at": guardian.created_at.isoformat(),
            "students": [student_link_dict(item) for item in card.links]}


def pending_to_dict(code: VerificationCode, student: Student) -> dict[str, Any]:
    return {"id": code.id, "phone": code.used_by, "purpose": code.purpose.value,
            "student": {"id": student.id, "name": student.name,
                        "phone": student.phone.e164},
            "redeemed_at": code.used_at.isoformat() if code.used_at else None}


def codes_workbook(codes: Sequence[IssuedCode], purpose: CodePurpose) -> bytes:
    """One row per student; every text cell written inert (never a formula)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("codigos")
    sheet.append([inert_xlsx_cell(sheet, h) for h in CODES_HEADERS])
    who = "acudientes" if purpose is CodePurpose.GUARDIAN else "estudiantes"
    for item in codes:
        sheet.append([inert_xlsx_cell(sheet, value) for value in (
            item.student.name, ", ".join(sorted(item.student.tags)), item.code,
            item.expires_at.date().isoformat(), who)])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
