"""WhatsApp sender ids (``wa_id``) and their national quirks: Mexico's ids keep the obsolete
mobile ``1`` (``521…``), Argentine ids drop the mobile ``9`` (``54…``), Brazilian ids may
lack the 9th digit (fixed by the parser). Here as digit strings; :mod:`eki_domain.model.phone`
reads them."""

from __future__ import annotations

from eki_domain.model.phone_cells import _BAD_CHARS_RE, _NON_DIGITS_RE, _normalize_unicode, _unwrap
from eki_domain.model.phone_messages import (
    _HINT_OTHER,
    _HINT_TYPE,
    INVALID_CHARACTERS,
    INVALID_NUMBER,
    INVALID_TYPE,
    _empty_error,
    _error,
    _too_long_error,
)


def wa_id_digits(wa_id: str | int) -> str:
    """The digits of a ``wa_id`` (``+`` and layout removed); raises
    :class:`~eki_domain.errors.InvalidPhoneNumber` for anything that is not one."""
    if isinstance(wa_id, bool):
        raise _error(
            INVALID_TYPE,
            wa_id,
            "es un valor verdadero/falso, no un número",
            "Un wa_id de WhatsApp tiene solo dígitos con indicativo de país.",
        )
    if isinstance(wa_id, int):
        if wa_id < 0:
            raise _error(INVALID_NUMBER, wa_id, "es negativo", _HINT_OTHER)
        if wa_id.bit_length() > 64:
            raise _too_long_error(wa_id, None)
        digits = str(wa_id)
    elif isinstance(wa_id, str):
        text = wa_id if wa_id.isascii() else _normalize_unicode(wa_id)
        text = text.strip().removeprefix("+")
        if not (text.isascii() and text.isdigit()):
            text = _unwrap(text).removeprefix("+")
            if _BAD_CHARS_RE.search(text) or "+" in text:
                raise _error(
                    INVALID_CHARACTERS,
                    wa_id,
                    "contiene caracteres que no son dígitos",
                    "Un wa_id de WhatsApp tiene solo dígitos con indicativo de país.",
                )
            text = _NON_DIGITS_RE.sub("", text)
        digits = text
    else:
        raise _error(
            INVALID_TYPE,
            wa_id,
            f"tiene un tipo de dato que no es texto ni número ({type(wa_id).__name__})",
            _HINT_TYPE,
        )
    if not digits:
        raise _empty_error(wa_id, None)
    if len(digits) > 17:
        raise _too_long_error(wa_id, None)
    return digits


def wa_id_readings(digits: str) -> tuple[str, ...]:
    """The E.164 forms to try for a ``wa_id``'s digits, in order."""
    as_given = "+" + digits
    if len(digits) == 13 and digits.startswith("521"):
        # Mexico: the id keeps the obsolete mobile "1"; records say +52 + 10 digits.
        return ("+52" + digits[3:], as_given)
    if len(digits) == 12 and digits.startswith("54"):
        # Argentina: "54" + 10 digits that only make a valid number as a mobile ("549…").
        return (as_given, "+549" + digits[2:])
    return (as_given,)


def alternate_e164(code: int, national: str) -> str | None:
    """The other E.164 under which the same WhatsApp user may be stored (Mexico's and
    Argentina's mobile prefixes, Brazil's 9th digit), or None."""
    other: str | None = None
    if code == 52:
        if len(national) == 10:
            other = "+521" + national
        elif len(national) == 11 and national[0] == "1":
            other = "+52" + national[1:]
    elif code == 54:
        if len(national) == 11 and national[0] == "9":
            other = "+54" + national[1:]
        elif len(national) == 10:
            other = "+549" + national
    elif code == 55:
        if len(national) == 11 and national[2] == "9":
            other = "+55" + national[:2] + national[3:]
        elif len(national) == 10 and national[2] in "6789":
            other = "+55" + national[:2] + "9" + national[2:]
    return other
