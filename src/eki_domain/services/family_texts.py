"""What EKI tells a guardian (Spanish): the choice of child, a switch, a restriction."""

from __future__ import annotations

from collections.abc import Sequence


def _clean(name: str) -> str:
    return " ".join(name.translate(str.maketrans("*_~`", "    ")).split())[:40] or "tu hijo(a)"


def choose_prompt(guardian_first: str, names: Sequence[str]) -> str:
    options = "\n".join(f"{index}) {_clean(name)}" for index, name in enumerate(names, 1))
    hello = f"Hola, {_clean(guardian_first)}. " if guardian_first else ""
    return (f"{hello}¿Sobre quién quieres consultar?\n{options}\n\n"
            "Responde con el número o el nombre.")


def selected(name: str) -> str:
    return (f"Listo: ahora consultamos sobre {_clean(name)}. ¿Qué quieres saber? "
            "(notas, fallas, pendientes)")


def about_prefix(name: str) -> str:
    return f"Sobre *{_clean(name)}*:\n\n"


def grades_restricted(name: str) -> str:
    return (f"Lo siento: con este número no tengo autorización para compartir las notas ni la "
            f"asistencia de {_clean(name)}. Si crees que es un error, comunícate con el "
            "colegio.")


def no_handoff() -> str:
    return ("Por este chat no puedo pasarte con una persona del colegio: comunícate con la "
            "secretaría o el director de grupo. Aquí puedo darte notas, fallas y pendientes.")


NOT_FOUND = "no encontrado"
