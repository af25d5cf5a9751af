"""``eki staff …``: staff accounts and their personal API tokens.

The CLI runs as the operator of the machine: its changes are audited with the actor
``cli:<OS user>``. Passwords come from standard input (``--password-stdin``) or are chosen by
the person through a one-time link; tokens are printed once and stored hashed.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from eki_domain.model.permissions import Principal
from eki_domain.model.staff import ApiToken, StaffMember
from eki_domain.services.staff import Caller
from eki_entrypoints.cli.common import EXIT_OK, CliError, open_eki, print_json
from eki_entrypoints.settings import Settings

#: Longer standard input is refused (a password is at most 256 characters).
PASSWORD_STDIN_MAX = 1024
SETUP_PATH = "/admin/setup/"


def cli_caller() -> Caller:
    """The operator of this machine as a principal (``cli:<OS user>``)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no USER/LOGNAME and no passwd entry (some containers)
        user = f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return Caller(Principal.cli(user), user_agent="eki-cli")


def read_password_stdin() -> str:
    data = sys.stdin.read(PASSWORD_STDIN_MAX + 1)
    if len(data) > PASSWORD_STDIN_MAX:
        raise CliError("--password-stdin: the input is too long for a password")
    password = data.rstrip("\r\n")
    if not password:
        raise CliError("--password-stdin: standard input was empty; pipe the password in, "
                       "e.g. `printf '%s' \"$PW\" | eki staff add …`")
    return password


def setup_link(settings: Settings, token: str) -> str:
    base = (settings.public_url or "").rstrip("/")
    return f"{base}{SETUP_PATH}{token}"


def member_to_dict(member: StaffMember) -> dict[str, Any]:
    """What ``eki staff list --json`` prints: no secret, no hash."""
    return {"email": member.email, "name": member.name, "role": member.role.value,
            "tags": sorted(member.tags), "active": member.active,
            "has_password": member.has_password, "second_factor": member.has_second_factor,
            "created_at": member.created_at.isoformat(),
            "last_sign_in_at": (member.last_sign_in_at.isoformat()
                                if member.last_sign_in_at else None)}


def token_to_dict(token: ApiToken) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None
    return {"id": token.id, "label": token.label, "created_at": iso(token.created_at),
            "expires_at": iso(token.expires_at), "revoked_at": iso(token.revoked_at),
            "last_used_at": iso(token.last_used_at)}


def _describe(member: StaffMember) -> str:
    tags = ", ".join(sorted(member.tags)) or "—"
    last = f"{member.last_sign_in_at:%Y-%m-%d %H:%M} UTC" if member.last_sign_in_at else "nunca"
    return "\n".join([
        f"Correo:     {member.email}",
        f"Nombre:     {member.name}",
        f"Rol:        {member.role.value}",
        f"Etiquetas:  {tags}",
        f"Activa:     {'sí' if member.active else 'no'}",
        f"Contraseña: {'definida' if member.has_password else 'pendiente (enlace de un uso)'}",
        f"Dos pasos:  {'activada' if member.has_second_factor else 'no'}",
        f"Último ingreso: {last}",
    ])


def _print_link(settings: Settings, token: str) -> None:
    print("Enlace de un solo uso para elegir la contraseña (vence en 24 horas):")
    print(f"  {setup_link(settings, token)}")
    if not settings.public_url:
        print("  (añada delante la dirección del servidor, o defina EKI_PUBLIC_URL)")


async def cmd_staff_add(settings: Settings, args: argparse.Namespace) -> int:
    password = read_password_stdin() if args.password_stdin else None
    async with open_eki(settings) as eki:
        member, token = await eki.staff.add(cli_caller(), args.email, args.name, args.role,
                                            tags=args.tag or (), password=password)
    print(f"Cuenta creada para {member.name} <{member.email}> ({member.role.value}).")
    if token is not None:
        _print_link(settings, token)
    return EXIT_OK


async def cmd_staff_list(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        members = await eki.staff.list(cli_caller())
    if args.json:
        print_json([member_to_dict(m) for m in members])
        return EXIT_OK
    if not members:
        print("No hay cuentas de personal. Cree la primera con "
              "`eki staff add CORREO --name NOMBRE --role admin`.")
    for m in members:
        state = "" if m.active else " [desactivada]"
        tags = f" · {', '.join(sorted(m.tags))}" if m.tags else ""
        print(f"{m.email}  {m.name}  ({m.role.value}){tags}{state}")
    return EXIT_OK


async def cmd_staff_show(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        member = await eki.staff.get(args.email)
    if args.json:
        print_json(member_to_dict(member))
    else:
        print(_describe(member))
    return EXIT_OK


async def cmd_staff_update(settings: Settings, args: argparse.Namespace) -> int:
    if args.role is None and args.tag is None and args.name is None and not args.no_tags:
        raise CliError("nothing to change: give --role, --tag, --no-tags or --name")
    tags = [] if args.no_tags else args.tag
    async with open_eki(settings) as eki:
        member = await eki.staff.update(cli_caller(), args.email, role=args.role, tags=tags,
                                        name=args.name)
    print("Cuenta actualizada.")
    print(_describe(member))
    return EXIT_OK


def _set_active(active: bool) -> Any:
    async def command(settings: Settings, args: argparse.Namespace) -> int:
        async with open_eki(settings) as eki:
            member = await eki.staff.set_active(cli_caller(), args.email, active)
        print(f"La cuenta {member.email} está {'activa' if active else 'desactivada'}"
              + ("." if active else "; sus sesiones y tokens dejan de funcionar."))
        return EXIT_OK
    return command


async def cmd_staff_reset_password(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        token = await eki.staff.reset_password(cli_caller(), args.email)
    print(f"La contraseña de {args.email.strip().lower()} dejó de funcionar y sus sesiones "
          "se cerraron.")
    _print_link(settings, token)
    return EXIT_OK


async def cmd_token_create(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        created = await eki.staff.create_token(cli_caller(), args.email, args.name,
                                               days=args.days)
    print(f"Token {created.token.id} «{created.token.label}» creado. Cópielo ahora: no se "
          "mostrará de nuevo.")
    print(created.secret)
    return EXIT_OK


async def cmd_token_list(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        tokens = await eki.staff.tokens(cli_caller(), args.email)
    if args.json:
        print_json([token_to_dict(t) for t in tokens])
        return EXIT_OK
    if not tokens:
        print("Esta cuenta no tiene tokens.")
    for t in tokens:
        state = ("revocado" if t.revoked_at else
                 f"vence {t.expires_at:%Y-%m-%d}" if t.expires_at else "sin vencimiento")
        used = f"último uso {t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "sin uso"
        print(f"{t.id}  {t.label}  ({state}, {used})")
    return EXIT_OK


async def cmd_token_revoke(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        revoked = await eki.staff.revoke_token(cli_caller(), args.id)
    if not revoked:
        raise CliError(f"there is no active token with id {args.id} (`eki staff token list "
                       "EMAIL` shows them)")
    print(f"Token {args.id} revocado.")
    return EXIT_OK


def _days(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 3650:
        raise argparse.ArgumentTypeError("must be between 1 and 3650")
    return value


def add_parser(sub: Any) -> None:
    """``sub`` is what ``ArgumentParser.add_subparsers()`` returned."""
    staff = sub.add_parser(
        "staff", help="staff accounts (roles, passwords, API tokens)",
        description="Staff accounts. Roles: admin, coordinator, teacher, viewer "
                    "(docs/admin.md).").add_subparsers(
        dest="staff_command", required=True, metavar="ACTION")

    add = staff.add_parser("add", help="create an account")
    add.add_argument("email", metavar="EMAIL")
    add.add_argument("--name", required=True, help="the person's name")
    add.add_argument("--role", required=True, metavar="ROLE",
                     help="admin, coordinator, teacher or viewer")
    add.add_argument("--tag", action="append", metavar="TAG",
                     help="a tag the person is responsible for (teachers; repeatable)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input (else a one-time link is "
                          "printed for the person to choose it)")
    add.set_defaults(handler=cmd_staff_add)

    listing = staff.add_parser("list", help="every account (no secrets)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_staff_list)

    show = staff.add_parser("show", help="one account")
    show.add_argument("email", metavar="EMAIL")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_staff_show)

    update = staff.add_parser("update", help="change the role, tags or name")
    update.add_argument("email", metavar="EMAIL")
    update.add_argument("--role", metavar="ROLE", help="admin, coordinator, teacher or viewer")
    update.add_argument("--tag", action="append", metavar="TAG",
                        help="the new set of tags (repeatable; replaces the old ones)")
    update.add_argument("--no-tags", action="store_true", help="remove every tag")
    update.add_argument("--name")
    update.set_defaults(handler=cmd_staff_update)

    for verb, active, text in (("disable", False, "disable an account (ends its sessions)"),
                               ("enable", True, "enable a disabled account")):
        cmd = staff.add_parser(verb, help=text)
        cmd.add_argument("email", metavar="EMAIL")
        cmd.set_defaults(handler=_set_active(active))

    reset = staff.add_parser("reset-password",
                             help="a new one-time link; the old password and sessions end")
    reset.add_argument("email", metavar="EMAIL")
    reset.set_defaults(handler=cmd_staff_reset_password)

    token = staff.add_parser("token", help="personal API tokens").add_subparsers(
        dest="token_command", required=True, metavar="ACTION")
    create = token.add_parser("create", help="create a token (printed once)")
    create.add_argument("email", metavar="EMAIL")
    create.add_argument("--name", required=True, metavar="LABEL",
                        help="what the token is for")
    create.add_argument("--days", type=_days, help="valid for N days (default: no expiry)")
    create.set_defaults(handler=cmd_token_create)
    tlist = token.add_parser("list", help="a person's tokens")
    tlist.add_argument("email", metavar="EMAIL")
    tlist.add_argument("--json", action="store_true")
    tlist.set_defaults(handler=cmd_token_list)
    revoke = token.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id", type=int, metavar="ID")
    revoke.set_defaults(handler=cmd_token_revoke)
