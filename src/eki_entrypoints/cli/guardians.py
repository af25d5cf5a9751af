"""``eki guardians``: parents and acudientes linked to students (docs/families.md)."""

from __future__ import annotations

import argparse
from typing import Any

from eki_domain.services.families import FamilyLink
from eki_entrypoints.cli.common import EXIT_FAILURE, EXIT_OK, open_eki, print_json
from eki_entrypoints.cli.importing import import_file, import_options, no_gc
from eki_entrypoints.cli.staff import cli_caller
from eki_entrypoints.families import family_service, link_to_dict
from eki_entrypoints.settings import Settings

__all__ = ["add_parser", "describe_link", "family_service", "link_to_dict"]


def describe_link(item: FamilyLink, *, student: bool = True) -> str:
    flags = [] if item.link.may_see_grades else ["sin notas"]
    if not item.link.may_receive_alerts:
        flags.append("sin avisos")
    extra = f" [{', '.join(flags)}]" if flags else ""
    who = f"{item.guardian.phone.e164:<16} {item.guardian.name} ({item.link.relationship.value})"
    return who + (f" → {item.student.name}" if student else "") + extra


async def cmd_guardians_add(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        guardian, student = await family_service(eki).add(
            cli_caller(), args.name, args.phone, student_phone=args.student,
            relationship=args.relationship, may_see_grades=not args.no_grades,
            may_receive_alerts=not args.no_alerts)
    print(f"{guardian.name} ({guardian.phone.e164}) vinculado a {student.name}.")
    return EXIT_OK


async def cmd_guardians_list(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        links = await family_service(eki).links(student_phone=args.student)
    if args.json:
        print_json([link_to_dict(item) for item in links])
        return EXIT_OK
    if not links:
        print("No hay acudientes vinculados. Vincule uno con "
              "`eki guardians add NOMBRE TELEFONO --student TELEFONO_ESTUDIANTE`.")
    for item in links:
        print(describe_link(item))
    return EXIT_OK


async def cmd_guardians_unlink(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        removed = await family_service(eki).unlink(cli_caller(), args.phone,
                                                   student_phone=args.student)
    if not removed:
        print("Ese acudiente no estaba vinculado a ese estudiante.")
        return EXIT_FAILURE
    print("Vínculo eliminado.")
    return EXIT_OK


async def cmd_guardians_import(settings: Settings, args: argparse.Namespace) -> int:
    with no_gc():
        return await import_file(settings, args, target="guardians")


def add_parser(sub: Any) -> None:
    """``sub`` is what ``ArgumentParser.add_subparsers()`` returned."""
    guardians = sub.add_parser(
        "guardians", help="parents and acudientes linked to students",
        description="Guardians (madre, padre, acudiente, otro) linked to students: they "
                    "write to EKI about their children (docs/families.md).").add_subparsers(
        dest="guardians_command", required=True, metavar="ACTION")

    add = guardians.add_parser("add", help="create a guardian (if new) and link a student")
    add.add_argument("name", metavar="NAME")
    add.add_argument("phone", metavar="PHONE")
    add.add_argument("--student", required=True, metavar="STUDENT_PHONE")
    add.add_argument("--relationship", metavar="R",
                     help="madre, padre, acudiente (default) u otro; mamá, papá, tutor… too")
    add.add_argument("--no-grades", action="store_true",
                     help="may not see grades or attendance")
    add.add_argument("--no-alerts", action="store_true", help="receives no alerts")
    add.set_defaults(handler=cmd_guardians_add)

    listing = guardians.add_parser("list", help="every link (or one student's)")
    listing.add_argument("--student", metavar="PHONE")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_guardians_list)

    unlink = guardians.add_parser("unlink", help="remove a guardian's link to a student")
    unlink.add_argument("phone", metavar="PHONE")
    unlink.add_argument("--student", required=True, metavar="STUDENT_PHONE")
    unlink.set_defaults(handler=cmd_guardians_unlink)

    imp = guardians.add_parser(
        "import", help="link guardians from a spreadsheet (one row per link)",
        description="Columns: telefono_estudiante, nombre_acudiente, telefono_acudiente, "
                    "parentesco. Exit codes: 0 processed (even with row errors), 1 rejected "
                    "by --strict, 2 unreadable file.")
    import_options(imp)
    imp.set_defaults(handler=cmd_guardians_import)
