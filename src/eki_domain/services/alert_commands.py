"""The commands a family or a student writes to stop or resume academic alerts.

"no más alertas de tareas", "no más alertas de fallas", "no más alertas" (every rule),
"activar alertas …" to undo. They are explicit commands, read before the intent
classifier (like BAJA/ALTA): only a message that *is* the command matches, so a question
that mentions alerts goes on to the assistant.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

import attrs

from eki_domain.model.alerts import AlertRule
from eki_domain.model.phone import phone_candidates
from eki_domain.ports.alerts import AlertOptOuts

#: Longest message read as a command (anything longer is a conversation).
MAX_COMMAND_CHARS = 80

_WORDS = {
    "tarea": AlertRule.ENTREGA, "tareas": AlertRule.ENTREGA, "entrega": AlertRule.ENTREGA,
    "entregas": AlertRule.ENTREGA, "trabajos": AlertRule.ENTREGA,
    "falla": AlertRule.FALLA, "fallas": AlertRule.FALLA, "faltas": AlertRule.FALLA,
    "asistencia": AlertRule.FALLA, "inasistencia": AlertRule.FALLA,
    "inasistencias": AlertRule.FALLA, "ausencias": AlertRule.FALLA,
    "nota": AlertRule.NOTA_BAJA, "notas": AlertRule.NOTA_BAJA,
    "calificaciones": AlertRule.NOTA_BAJA, "notas bajas": AlertRule.NOTA_BAJA,
}
_STOP = (r"(?:no (?:quiero |deseo )?(?:recibir )?mas|ya no(?: quiero| deseo)?(?: recibir)?"
         r"(?: mas)?|desactivar|desactiva|quitar|quita|parar|detener|cancelar|sin)")
_START = (r"(?:activar|activa|reactivar|reactiva|volver a recibir|quiero|enviar|enviame|"
          r"mandame)")
_TAIL = r"(?: (?:de|sobre|por) (?P<what>[a-z ,y]+?))?"
_COMMAND = re.compile(
    rf"^(?:por favor )?(?:(?P<stop>{_STOP})|(?P<start>{_START})) (?:las |mas )?alertas"
    rf"{_TAIL}(?: por favor)?$")


@attrs.frozen
class AlertCommand:
    enable: bool
    #: The rules it is about (every rule when the person named none).
    rules: frozenset[AlertRule]

    @property
    def every_rule(self) -> bool:
        return self.rules == frozenset(AlertRule)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = re.sub(r"[¡!¿?.;:]+", " ", plain)
    return " ".join(plain.split())


def parse_alert_command(text: str | None) -> AlertCommand | None:
    """The command ``text`` is, or None (not a command: the conversation goes on)."""
    if not text or len(text) > MAX_COMMAND_CHARS:
        return None
    match = _COMMAND.match(_fold(text))
    if match is None:
        return None
    what = match.group("what")
    rules: set[AlertRule] = set()
    if what:
        for part in re.split(r",| y ", what):
            word = part.strip()
            if not word:
                continue
            rule = _WORDS.get(word) or _WORDS.get(word.removeprefix("las ").removeprefix(
                "los "))
            if rule is None:
                return None  # "no más alertas de mentira": not a command we know
            rules.add(rule)
    return AlertCommand(enable=match.group("start") is not None,
                        rules=frozenset(rules) if rules else frozenset(AlertRule))


_NAMES = {AlertRule.FALLA: "fallas (inasistencias)", AlertRule.ENTREGA: "tareas (entregas "
          "próximas)", AlertRule.NOTA_BAJA: "notas bajas"}
_WORD = {AlertRule.FALLA: "fallas", AlertRule.ENTREGA: "tareas", AlertRule.NOTA_BAJA: "notas"}


def _listing(rules: frozenset[AlertRule]) -> str:
    names = [_NAMES[r] for r in AlertRule if r in rules]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " ni " + names[-1]


def command_confirmation(command: AlertCommand) -> str:
    """The Spanish reply to a command."""
    if command.every_rule:
        if command.enable:
            return ("Listo ✅ Volverás a recibir las alertas académicas (fallas, tareas y "
                    "notas bajas). Para dejar de recibirlas escribe «no más alertas».")
        return ("Listo ✅ No te enviaremos más alertas académicas (fallas, tareas ni notas "
                "bajas). Si cambias de opinión escribe «activar alertas».")
    words = " y ".join(_WORD[r] for r in AlertRule if r in command.rules)
    if command.enable:
        listing = _listing(command.rules).replace(" ni ", " y ")
        return (f"Listo ✅ Volverás a recibir las alertas de {listing}. Para dejar de "
                f"recibirlas escribe «no más alertas de {words}».")
    return (f"Listo ✅ No te enviaremos más alertas de {_listing(command.rules)}. Si cambias "
            f"de opinión escribe «activar alertas de {words}».")


async def record_alert_choice(opt_outs: AlertOptOuts, command: AlertCommand, wa_id: str,
                              phone: str, now: datetime) -> None:
    """Store a person's alert choice under every reading of their number (alerts go to
    the E.164 stored for a guardian or a student)."""
    for candidate in dict.fromkeys((phone, *phone_candidates(wa_id))):
        if command.enable:
            await opt_outs.accept(candidate, command.rules)
        else:
            await opt_outs.refuse(candidate, command.rules, now)
