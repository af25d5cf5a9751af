"""``eki consent``: import paper consents and show a person's consent history
(docs/privacy.md)."""

from __future__ import annotations

import argparse
from typing import Any

from eki_domain.model.audit import AuditAction
from eki_domain.model.consent import ConsentDecision, ConsentRecord, ConsentRole
from eki_domain.model.phone import PhoneNumber, mask_phone
from eki_entrypoints.cli.common import EXIT_OK, open_eki, print_json
from eki_entrypoints.cli.importing import import_file, import_options, no_gc
from eki_entrypoints.cli.staff import cli_caller
from eki_entrypoints.settings import Settings

_DECISIONS = {ConsentDecision.GRANTED: "aceptó", ConsentDecision.REFUSED: "no aceptó",
              ConsentDecision.WITHDRAWN: "revocó"}
_STATES = {ConsentDecision.GRANTED: "autorizado", ConsentDecision.REFUSED: "no autorizó",
           ConsentDecision.WITHDRAWN: "revocó la autorización"}


def record_to_dict(record: ConsentRecord) -> dict[str, Any]:
    return {"phone": record.phone, "role": str(record.role), "decision": str(record.decision),
            "medium": str(record.medium), "policy_version": record.policy_version,
            "decided_at": record.decided_at.isoformat(),
            "recorded_at": record.recorded_at.isoformat(), "student_id": record.student_id,
            "guardian_id": record.guardian_id, "message_id": record.message_id,
            "recorded_by": record.recorded_by}


def describe(record: ConsentRecord) -> str:
    who = ("como estudiante" if record.role is ConsentRole.STUDENT
           else f"como acudiente del estudiante {record.student_id}")
    via = record.medium.value + (f", mensaje {record.message_id}" if record.message_id else "")
    by = f", registrado por {record.recorded_by}" if record.recorded_by else ""
    return (f"{record.decided_at:%Y-%m-%d %H:%M} UTC  {_DECISIONS[record.decision]:<9} "
            f"versión {record.policy_version}, {who} ({via}{by})")


async def cmd_consent_show(settings: Settings, args: argparse.Namespace) -> int:
    phone = PhoneNumber.parse(args.phone, settings.default_country)
    async with open_eki(settings) as eki:
        history = await eki.consent.history(phone.match_candidates())
        lacking = await eki.consent.lacking_consent([r.phone for r in history] or [phone.e164])
        await eki.audit.record(cli_caller(), AuditAction.CONSENT_VIEWED, target_type="phone",
                               target_id=mask_phone(phone.e164), via="cli")
    policy = settings.consent_policy()
    current = next((r.decision for r in reversed(history)
                    if r.policy_version == policy.version), None)
    if args.json:
        print_json({"phone": phone.e164, "policy_version": policy.version,
                    "required": policy.required,
                    "current": None if current is None else str(current),
                    "lacking_consent": bool(lacking),
                    "history": [record_to_dict(r) for r in history]})
        return EXIT_OK
    state = "sin respuesta" if current is None else _STATES[current]
    print(f"{phone.e164}: {state} (política versión {policy.version}"
          + ("" if policy.required else "; EKI_CONSENT_REQUIRED=0") + ").")
    if not history:
        print("No hay decisiones registradas.")
    for record in history:
        print("  " + describe(record))
    return EXIT_OK


async def cmd_consent_import(settings: Settings, args: argparse.Namespace) -> int:
    with no_gc():
        return await import_file(settings, args, target="consents")


def add_parser(sub: Any) -> None:
    """``sub`` is what ``ArgumentParser.add_subparsers()`` returned."""
    consent = sub.add_parser(
        "consent", help="consent to the processing of personal data (Ley 1581)",
        description="The consent ledger: paper authorisations collected at enrolment and "
                    "each person's decisions (docs/privacy.md).").add_subparsers(
        dest="consent_command", required=True, metavar="ACTION")

    imp = consent.add_parser(
        "import", help="record paper consents from a spreadsheet",
        description="Columns: telefono, fecha, version (blank: EKI_PRIVACY_POLICY_VERSION), "
                    "medio (papel, whatsapp o import; blank: import). Each phone must be a "
                    "student's or a guardian's (a guardian consents for every linked child). "
                    "Exit codes: 0 processed (even with row errors), 1 rejected by --strict, "
                    "2 unreadable file.")
    import_options(imp)
    imp.set_defaults(handler=cmd_consent_import)

    show = consent.add_parser("show", help="a person's consent history and current state")
    show.add_argument("phone", metavar="PHONE")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_consent_show)
