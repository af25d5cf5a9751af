"""``eki students …``: the student registry (add, show, list, update, activate, deactivate,
tag, import)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from eki_domain.model.audit import AuditAction
from eki_domain.model.pagination import PageRequest
from eki_domain.model.student import Student
from eki_entrypoints.cli.common import (
    EXIT_OK,
    CliError,
    non_negative,
    open_eki,
    page_size,
    print_json,
)
from eki_entrypoints.cli.importing import import_file, import_options, no_gc
from eki_entrypoints.cli.staff import cli_caller
from eki_entrypoints.serialize import student_page_to_dict, student_to_dict
from eki_entrypoints.settings import Settings


def describe(student: Student) -> str:
    tags = ", ".join(sorted(student.tags)) or "—"
    return "\n".join(
        [
            f"Nombre:      {student.name}",
            f"Teléfono:    {student.phone.e164} ({student.phone.region}, {student.phone.kind})",
            f"Activo:      {'sí' if student.active else 'no'}",
            f"Registrado:  {student.registered_at:%Y-%m-%d %H:%M} UTC",
            f"Etiquetas:   {tags}",
        ]
    )


async def cmd_students_add(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        student = await eki.registration.register(
            args.name, args.phone, tags=args.tag or (), active=not args.inactive
        )
        await eki.audit.record(cli_caller(), AuditAction.STUDENT_CREATED,
                               target_type="student", target_id=str(student.id))
    if args.json:
        print_json(student_to_dict(student))
    else:
        print(f"Estudiante registrado (id {student.id}).")
        print(describe(student))
        for warning in student.phone.warnings:
            print(f"Aviso: {warning.message}", file=sys.stderr)
    return EXIT_OK


async def cmd_students_show(settings: Settings, args: argparse.Namespace) -> int:
    # Here, not at the top: `eki students import` does not load the guardians' modules.
    from eki_entrypoints.cli.guardians import describe_link, family_service, link_to_dict

    async with open_eki(settings) as eki:
        student = await eki.registration.find(args.phone)
        links = await family_service(eki).of_student(student)
    if args.json:
        print_json({**student_to_dict(student),
                    "guardians": [link_to_dict(item) for item in links]})
    else:
        print(describe(student))
        for item in links:
            print(f"  acudiente: {describe_link(item, student=False)}")
    return EXIT_OK


async def cmd_students_list(settings: Settings, args: argparse.Namespace) -> int:
    active = True if args.active else False if args.inactive else None
    async with open_eki(settings) as eki:
        page = await eki.registration.list(
            tag=args.tag, active=active, page=PageRequest(limit=args.limit, offset=args.offset)
        )
    if args.json:
        print_json(student_page_to_dict(page))
        return EXIT_OK
    if not page.items:
        print("No hay estudiantes que coincidan.")
        return EXIT_OK
    for s in page.items:
        tags = ",".join(sorted(s.tags))
        print(f"{s.phone.e164:<16} {'activo  ' if s.active else 'inactivo'} {s.name}"
              + (f"  [{tags}]" if tags else ""))
    shown_to = page.offset + len(page.items)
    print(f"— {page.offset + 1}–{shown_to} de {page.total}"
          + (f" (siguiente página: --offset {shown_to})" if page.has_more else ""))
    return EXIT_OK


async def _update(settings: Settings, args: argparse.Namespace, **changes: Any) -> int:
    async with open_eki(settings) as eki:
        student = await eki.registration.update(args.phone, **changes)
        await eki.audit.record(cli_caller(), AuditAction.STUDENT_UPDATED,
                               target_type="student", target_id=str(student.id),
                               changed=",".join(sorted(changes)))
    if getattr(args, "json", False):
        print_json(student_to_dict(student))
    else:
        print(describe(student))
    return EXIT_OK


async def cmd_students_update(settings: Settings, args: argparse.Namespace) -> int:
    changes: dict[str, Any] = {}
    if args.name is not None:
        changes["name"] = args.name
    if args.new_phone is not None:
        changes["new_phone"] = args.new_phone
    if args.tag is not None:
        changes["tags"] = args.tag
    if args.active:
        changes["active"] = True
    elif args.inactive:
        changes["active"] = False
    if not changes:
        raise CliError("nothing to change: give --name, --new-phone, --tag, --active or --inactive")
    return await _update(settings, args, **changes)


async def cmd_students_activate(settings: Settings, args: argparse.Namespace) -> int:
    return await _update(settings, args, active=True)


async def cmd_students_deactivate(settings: Settings, args: argparse.Namespace) -> int:
    return await _update(settings, args, active=False)


async def cmd_students_tag(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        if args.remove:
            student = await eki.registration.untag(args.phone, *args.tags)
        else:
            student = await eki.registration.tag(args.phone, *args.tags)
        await eki.audit.record(cli_caller(), AuditAction.STUDENT_UPDATED,
                               target_type="student", target_id=str(student.id),
                               changed="tags")
    print(describe(student))
    return EXIT_OK


async def cmd_students_import(settings: Settings, args: argparse.Namespace) -> int:
    with no_gc():
        return await import_file(settings, args, target="students")


def add_parser(sub: Any) -> None:
    """``sub`` is what ``ArgumentParser.add_subparsers()`` returned."""
    students = sub.add_parser("students", help="the student registry").add_subparsers(
        dest="students_command", required=True, metavar="ACTION"
    )
    add = students.add_parser("add", help="register a student")
    add.add_argument("name", metavar="NAME")
    add.add_argument("phone", metavar="PHONE", help="any format, e.g. '300 123 4567' or +57…")
    add.add_argument("--tag", action="append", metavar="T", help="a tag (repeatable)")
    add.add_argument("--inactive", action="store_true", help="register as inactive")
    add.add_argument("--json", action="store_true", help="print the student as JSON")
    add.set_defaults(handler=cmd_students_add)

    show = students.add_parser("show", help="show one student by phone (any format)")
    show.add_argument("phone", metavar="PHONE")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_students_show)

    lst = students.add_parser("list", help="list students, newest first")
    lst.add_argument("--tag", metavar="T")
    state = lst.add_mutually_exclusive_group()
    state.add_argument("--active", action="store_true", help="only active students")
    state.add_argument("--inactive", action="store_true", help="only inactive students")
    lst.add_argument("--limit", type=page_size, default=50, help="page size (default 50)")
    lst.add_argument("--offset", type=non_negative, default=0, help="skip this many")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=cmd_students_list)

    upd = students.add_parser("update", help="change a student's name, phone, state or tags")
    upd.add_argument("phone", metavar="PHONE")
    upd.add_argument("--name")
    upd.add_argument("--new-phone", dest="new_phone", metavar="PHONE")
    upd.add_argument("--tag", action="append", metavar="T", help="replace the tags (repeatable)")
    ustate = upd.add_mutually_exclusive_group()
    ustate.add_argument("--active", action="store_true")
    ustate.add_argument("--inactive", action="store_true")
    upd.add_argument("--json", action="store_true")
    upd.set_defaults(handler=cmd_students_update)

    for name, handler, text in (
        ("activate", cmd_students_activate, "mark a student active"),
        ("deactivate", cmd_students_deactivate, "mark a student inactive"),
    ):
        cmd = students.add_parser(name, help=text)
        cmd.add_argument("phone", metavar="PHONE")
        cmd.add_argument("--json", action="store_true")
        cmd.set_defaults(handler=handler)

    imp = students.add_parser(
        "import",
        help="import students from .xlsx/.xls/.ods/.csv/.json",
        description="Create or update students from a spreadsheet: columns nombre and "
        "telefono (required), activo and etiquetas (optional). Exit 0 when the file was "
        "processed (even with row errors), 1 when --strict rejected it, 2 when unreadable.",
    )
    import_options(imp)
    imp.set_defaults(handler=cmd_students_import)

    tag = students.add_parser("tag", help="add (or with --remove, remove) tags")
    tag.add_argument("phone", metavar="PHONE")
    tag.add_argument("tags", nargs="+", metavar="TAG")
    tag.add_argument("--remove", action="store_true")
    tag.set_defaults(handler=cmd_students_tag)
