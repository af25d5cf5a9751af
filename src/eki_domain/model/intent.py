"""What a student's message asks for: the intents EKI understands, and the menu numbers."""

from __future__ import annotations

import enum
from typing import Final

__all__ = ["MENU_OPTIONS", "Intent"]


class Intent(enum.StrEnum):
    SALUDO = "saludo"
    AYUDA = "ayuda"  # the menu
    PROGRESO = "progreso"  # notas, calificaciones, promedio, "¿cómo voy?"
    NOTAS = "notas"  # each activity's grade: "notas de cada actividad", "¿qué saqué en el quiz?"
    ASISTENCIA = "asistencia"  # fallas, faltas, inasistencias, llegadas tarde
    PENDIENTES = "pendientes"  # tareas, trabajos, entregas
    MIS_DATOS = "mis_datos"  # mis datos, perfil, "¿quién soy?"
    GRACIAS = "gracias"
    DESPEDIDA = "despedida"
    OPT_OUT = "opt_out"  # STOP, BAJA, "no más mensajes"
    OPT_IN = "opt_in"  # ALTA, START, "volver a recibir mensajes"
    HUMANO = "humano"  # "quiero hablar con un asesor"
    DESCONOCIDO = "desconocido"


#: What a number typed alone means (the menu in :func:`eki_domain.services.texts.menu_text`).
MENU_OPTIONS: Final[dict[str, Intent]] = {
    "1": Intent.PROGRESO,
    "2": Intent.ASISTENCIA,
    "3": Intent.PENDIENTES,
    "4": Intent.MIS_DATOS,
    "5": Intent.HUMANO,
}
