"""OneRoster 1.1 guardians: users.csv rows with role parent/guardian/relative, linked through
agentSourcedIds (the student's or the guardian's), on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from eki_adapters.oneroster import read_oneroster
from eki_domain.model.guardian import Relationship
from eki_domain.model.imports import ImportStatus
from eki_entrypoints.bootstrap import Eki
from tests.integration.test_oneroster import (
    USERS,
    USERS_HEADER,
    _csv,
    eki,  # noqa: F401 - the fixture
    package_files,
    service,
    write_folder,
)

ANA = "+573001234567"


def _row(sourced_id: str, role: str, given: str, phone: str, agents: str,
         status: str = "active") -> list[str]:
    row = dict.fromkeys(USERS_HEADER, "")
    row.update({"sourcedId": sourced_id, "status": status, "role": role, "givenName": given,
                "familyName": "Pérez", "sms": phone, "agentSourcedIds": agents,
                "enabledUser": "true", "dateLastModified": "2026-01-20T10:00:00.000Z"})
    return [row[h] for h in USERS_HEADER]


async def test_guardians_are_linked_through_agent_ids(eki: Eki, tmp_path: Path) -> None:  # noqa: F811
    files = package_files()
    files["users.csv"] = _csv([*USERS,
                               _row("u-papa", "parent", "Jorge", "310 555 0002", ""),
                               _row("u-tia", "relative", "Rosa", "", "u-ana"),
                               _row("u-abuelo", "guardian", "Pedro", "3105550003", "u-ana",
                                    status="tobedeleted")])
    users = files["users.csv"].decode().replace(",u-mama,", ',"u-mama,u-papa",', 1)
    files["users.csv"] = users.encode()
    result = await service(eki).import_package(read_oneroster(
        write_folder(tmp_path / "pkg", files)))
    assert result.status is ImportStatus.COMPLETED
    assert [p.code for p in result.problems if p.code == "GUARDIAN_NO_PHONE"] == [
        "GUARDIAN_NO_PHONE"]
    ana = await eki.registration.find(ANA)
    async with eki.uow() as uow:
        links = await uow.guardians.links_of_student(ana.id or 0)
        named = []
        for link in links:
            guardian = await uow.guardians.get(link.guardian_id)
            assert guardian is not None
            named.append((guardian.name, guardian.phone.e164, link.relationship))
        assert await uow.students.count() == 2  # guardians are not students
    assert named == [("Marta Pérez", "+573004445566", Relationship.ACUDIENTE),
                     ("Jorge Pérez", "+573105550002", Relationship.ACUDIENTE)]
    again = await service(eki).import_package(read_oneroster(
        write_folder(tmp_path / "pkg", files)))
    assert again.status is ImportStatus.COMPLETED
    async with eki.uow() as uow:
        assert len(await uow.guardians.links_of_student(ana.id or 0)) == 2
