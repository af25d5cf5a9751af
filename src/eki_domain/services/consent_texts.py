"""What EKI says about consent, in Spanish and (to a question written in English) English.

Short on purpose: a WhatsApp message. Who processes the data (the school), what for, the
rights of Ley 1581 de 2012, the policy link, and how to answer.
"""

from __future__ import annotations

from eki_domain.model.consent import ConsentPolicy

__all__ = ["accepted", "already_granted", "notice", "refused", "reminder", "revoked"]


def _policy_line(policy: ConsentPolicy, english: bool) -> str:
    if policy.url:
        return (f"Privacy policy: {policy.url}" if english
                else f"Política de tratamiento de datos: {policy.url}")
    return ("Ask the school office for the privacy policy." if english
            else "La política de tratamiento de datos está disponible en la secretaría del "
            "colegio.")


def notice(policy: ConsentPolicy, *, english: bool = False, guardian: bool = False,
           update: bool = False) -> str:
    """The first message to a known student or guardian (or after a policy change)."""
    school = policy.controller
    if english:
        whose = "your data and your children's" if guardian else "your personal data"
        head = ("We updated our privacy policy. " if update else "Hi! Before we go on: ")
        return (
            f"{head}{school} is responsible for processing {whose} (grades, attendance, "
            "assignments and these messages), only to keep you informed about school life "
            "over WhatsApp. Under Colombian law (Ley 1581 de 2012) you may know, update, "
            "correct and delete your data and revoke this authorisation at any time.\n"
            f"{_policy_line(policy, True)}\n\n"
            "If you agree, reply *ACCEPT* (or ACEPTO); if not, reply *DECLINE*. "
            "I'll answer your question right after.")
    whose = "tus datos y los de tus hijos" if guardian else "tus datos personales"
    head = ("Actualizamos nuestra política de datos. " if update
            else "¡Hola! Antes de responderte: ")
    return (
        f"{head}{school} es responsable del tratamiento de {whose} (notas, asistencia, "
        "tareas y estos mensajes), solo para informarte sobre la vida escolar por WhatsApp. "
        "Según la Ley 1581 de 2012 puedes conocer, actualizar, rectificar y suprimir tus "
        "datos, y revocar esta autorización cuando quieras.\n"
        f"{_policy_line(policy, False)}\n\n"
        "Si estás de acuerdo, responde *ACEPTO*. Si no, responde *NO ACEPTO*. "
        "Apenas aceptes respondo tu pregunta.")


def reminder(policy: ConsentPolicy, *, english: bool = False) -> str:
    """To someone who refused or withdrew and asks again: nothing is disclosed."""
    if english:
        return ("To answer about personal data I need your authorisation (Ley 1581 de 2012), "
                "which you have not given. If you agree, reply *ACCEPT*.\n"
                f"{_policy_line(policy, True)}")
    return ("Para responder sobre datos personales necesito tu autorización (Ley 1581 de "
            "2012), que no has dado. Si estás de acuerdo, responde *ACEPTO*.\n"
            f"{_policy_line(policy, False)}")


def accepted(policy: ConsentPolicy, *, english: bool = False, question: bool = False) -> str:
    if english:
        text = ("Thank you, your authorisation is recorded (policy version "
                f"{policy.version}). You can revoke it at any time by writing REVOCAR.")
        return text if question else text + " How can I help?"
    text = ("Gracias, quedó registrada tu autorización (política versión "
            f"{policy.version}). Puedes revocarla cuando quieras escribiendo REVOCAR.")
    return text if question else text + " ¿En qué te puedo ayudar?"


def already_granted(*, english: bool = False) -> str:
    if english:
        return "Your authorisation is already recorded. How can I help?"
    return "Tu autorización ya está registrada. ¿En qué te puedo ayudar?"


def refused(policy: ConsentPolicy, *, english: bool = False) -> str:
    if english:
        return ("Understood: we recorded that you do not authorise the processing of your "
                "data, and we will not share personal information over this chat. If you "
                f"change your mind, reply *ACCEPT*; for anything else, contact {policy.controller} "
                "directly.")
    return ("Entendido: registramos que no autorizas el tratamiento de tus datos y no "
            "compartiremos información personal por este medio. Si cambias de opinión, "
            f"responde *ACEPTO*; para cualquier otra cosa, comunícate con {policy.controller}.")


def revoked(*, english: bool = False) -> str:
    if english:
        return ("Done: we recorded that you revoked your authorisation and we will not write "
                "to you again. If you change your mind, write *ALTA*.")
    return ("Listo: registramos que revocaste tu autorización y no te enviaremos más "
            "mensajes. Si cambias de opinión, escribe *ALTA*.")
