"""Twilio error codes EKI branches on, and what they mean for school staff (Spanish)."""

from __future__ import annotations

from collections.abc import Mapping

#: Codes worth retrying (Twilio's own rate limits), whatever the HTTP status.
TRANSIENT_CODES = frozenset({20429, 63018})

#: Codes that never succeed on retry, whatever the HTTP status.
PERMANENT_CODES = frozenset({
    20003,  # authentication failed (wrong account SID or auth token)
    20404,  # resource not found (wrong account SID or API URL)
    21211,  # invalid 'To' number
    21606,  # 'From' is not a message-capable Twilio number
    21610,  # the recipient unsubscribed (STOP)
    21617,  # body over 1600 characters
    21658,  # a parameter over its character limit
    63003,  # channel could not find the 'To' address (undeliverable)
    63007,  # channel could not find the 'From' address (sender not set up)
    63016,  # outside the 24-hour window: only approved templates
    63024,  # invalid message recipient
    63032,  # WhatsApp will not deliver to this user
    63038,  # the account's daily message limit was reached
    63049,  # Meta chose not to deliver the message
})

HINTS: Mapping[int, str] = {
    63016: "han pasado más de 24 horas desde el último mensaje del estudiante; "
           "solo se puede escribir con una plantilla aprobada",
    63003: "el número no puede recibir el mensaje (no tiene WhatsApp o no aceptó "
           "las condiciones)",
    63024: "el destinatario no es válido para WhatsApp",
    63032: "WhatsApp no permite entregar mensajes a este usuario",
    63049: "WhatsApp decidió no entregar el mensaje",
    63007: "el remitente configurado en EKI_TWILIO_FROM no está habilitado para WhatsApp "
           "en esta cuenta de Twilio",
    63018: "se superó el límite de mensajes por segundo del remitente",
    63038: "la cuenta de Twilio alcanzó su límite diario de mensajes",
    20429: "demasiadas solicitudes seguidas a Twilio",
    20003: "Twilio rechazó las credenciales; revise EKI_TWILIO_ACCOUNT_SID y "
           "EKI_TWILIO_AUTH_TOKEN",
    20404: "Twilio no encontró la cuenta; revise EKI_TWILIO_ACCOUNT_SID y EKI_TWILIO_API_URL",
    21211: "el número de destino no es válido",
    21606: "el remitente configurado en EKI_TWILIO_FROM no puede enviar mensajes",
    21610: "el destinatario pidió no recibir más mensajes de este número",
    21617: "el mensaje supera los 1600 caracteres que acepta Twilio",
    21658: "un parámetro supera el límite de caracteres de Twilio",
}


def parse_code(value: object) -> int | None:
    """A Twilio error code from JSON or a form field (``"63016"``, ``63016``); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
