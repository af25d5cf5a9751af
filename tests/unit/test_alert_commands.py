"""The alert commands (issue 16): read before the classifier, only when the whole message
is the command; the Spanish confirmations; rule names and template references."""

from __future__ import annotations

import pytest

from eki_domain.model.alerts import AlertRule, HoldReason, parse_template_ref
from eki_domain.model.templates import InvalidTemplate
from eki_domain.services.alert_commands import (
    AlertCommand,
    command_confirmation,
    parse_alert_command,
)

ALL = frozenset(AlertRule)


@pytest.mark.parametrize(("text", "enable", "rules"), [
    ("no más alertas de tareas", False, {AlertRule.ENTREGA}),
    ("No mas alertas de fallas", False, {AlertRule.FALLA}),
    ("no más alertas", False, ALL),
    ("NO MÁS ALERTAS!", False, ALL),
    ("no quiero más alertas de notas", False, {AlertRule.NOTA_BAJA}),
    ("desactivar alertas de tareas y fallas", False, {AlertRule.ENTREGA, AlertRule.FALLA}),
    ("ya no quiero alertas", False, ALL),
    ("por favor no más alertas de asistencia", False, {AlertRule.FALLA}),
    ("activar alertas", True, ALL),
    ("Activar alertas de tareas", True, {AlertRule.ENTREGA}),
    ("reactivar las alertas de notas", True, {AlertRule.NOTA_BAJA}),
])
def test_commands(text: str, enable: bool, rules: set[AlertRule]) -> None:
    assert parse_alert_command(text) == AlertCommand(enable=enable, rules=frozenset(rules))


@pytest.mark.parametrize("text", [
    "", None, "hola", "¿por qué no me llegan más alertas?", "no más",  "BAJA",
    "no más alertas de mentiras", "no más alertas de tareas" + " por favor" * 10,
    "quiero saber mis notas", "alertas",
])
def test_not_commands(text: str | None) -> None:
    assert parse_alert_command(text) is None


def test_confirmations_say_how_to_undo() -> None:
    off = command_confirmation(AlertCommand(False, frozenset({AlertRule.ENTREGA})))
    assert "No te enviaremos más alertas de tareas (entregas próximas)" in off
    assert "«activar alertas de tareas»" in off
    both = command_confirmation(AlertCommand(False, frozenset({AlertRule.FALLA,
                                                               AlertRule.NOTA_BAJA})))
    assert "fallas (inasistencias) ni notas bajas" in both
    assert "«activar alertas de fallas y notas»" in both
    assert "«activar alertas»" in command_confirmation(AlertCommand(False, ALL))
    on = command_confirmation(AlertCommand(True, frozenset({AlertRule.FALLA})))
    assert "Volverás a recibir las alertas de fallas" in on
    assert "«no más alertas de fallas»" in on
    assert "«no más alertas»" in command_confirmation(AlertCommand(True, ALL))


def test_rule_names_and_template_refs() -> None:
    assert AlertRule.parse("Nota baja") is AlertRule.NOTA_BAJA
    assert AlertRule.parse("entrega-proxima") is AlertRule.ENTREGA
    with pytest.raises(ValueError, match="not an alert rule"):
        AlertRule.parse("tardanza")
    assert parse_template_ref("alerta_falla") == ("alerta_falla", "es")
    assert parse_template_ref(" alerta_falla:es_CO ") == ("alerta_falla", "es_CO")
    with pytest.raises(InvalidTemplate):
        parse_template_ref("Alerta Falla")
    assert all(reason.text for reason in HoldReason)
    assert HoldReason.QUIET_HOURS.waits and not HoldReason.OPTED_OUT.waits
