"""The Spanish texts and stable codes of phone-number problems: what a school secretary reads
when a spreadsheet cell is not a usable phone (error codes in :data:`PHONE_ERROR_CODES`,
warning codes in :data:`PHONE_WARNING_CODES`)."""

from __future__ import annotations

import enum
from typing import Final

import attrs
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult

from eki_domain.errors import InvalidPhoneNumber

EMPTY: Final = "EMPTY"
INVALID_TYPE: Final = "INVALID_TYPE"
INVALID_CHARACTERS: Final = "INVALID_CHARACTERS"
SCIENTIFIC_NOTATION_DIGITS_LOST: Final = "SCIENTIFIC_NOTATION_DIGITS_LOST"
NOT_A_NUMBER: Final = "NOT_A_NUMBER"
INVALID_COUNTRY_CODE: Final = "INVALID_COUNTRY_CODE"
TOO_SHORT: Final = "TOO_SHORT"
TOO_LONG: Final = "TOO_LONG"
INVALID_LENGTH: Final = "INVALID_LENGTH"
INVALID_NUMBER: Final = "INVALID_NUMBER"

PHONE_ERROR_CODES: Final[frozenset[str]] = frozenset(
    {
        EMPTY,
        INVALID_TYPE,
        INVALID_CHARACTERS,
        SCIENTIFIC_NOTATION_DIGITS_LOST,
        NOT_A_NUMBER,
        INVALID_COUNTRY_CODE,
        TOO_SHORT,
        TOO_LONG,
        INVALID_LENGTH,
        INVALID_NUMBER,
    }
)

FIXED_LINE: Final = "FIXED_LINE"
NOT_MOBILE: Final = "NOT_MOBILE"
SECOND_NUMBER_IGNORED: Final = "SECOND_NUMBER_IGNORED"
EXTENSION_DROPPED: Final = "EXTENSION_DROPPED"

PHONE_WARNING_CODES: Final[frozenset[str]] = frozenset(
    {FIXED_LINE, NOT_MOBILE, SECOND_NUMBER_IGNORED, EXTENSION_DROPPED}
)


class PhoneKind(enum.StrEnum):
    MOBILE = "mobile"
    FIXED = "fixed"
    OTHER = "other"


_MOBILE: Final = PhoneKind.MOBILE


@attrs.frozen
class PhoneWarning:
    """Something worth telling the person who typed the number; the number was still accepted."""

    code: str
    message: str



_COUNTRY_NAMES: Final[dict[str, str]] = {
    "AR": "Argentina",
    "BO": "Bolivia",
    "BR": "Brasil",
    "CA": "Canadá",
    "CL": "Chile",
    "CO": "Colombia",
    "CR": "Costa Rica",
    "CU": "Cuba",
    "DO": "República Dominicana",
    "EC": "Ecuador",
    "ES": "España",
    "GT": "Guatemala",
    "HN": "Honduras",
    "MX": "México",
    "NI": "Nicaragua",
    "PA": "Panamá",
    "PE": "Perú",
    "PR": "Puerto Rico",
    "PY": "Paraguay",
    "SV": "El Salvador",
    "US": "Estados Unidos",
    "UY": "Uruguay",
    "VE": "Venezuela",
}

_HINT_CO: Final = (
    "En Colombia los celulares tienen 10 dígitos y empiezan por 3 (por ejemplo 300 123 4567) "
    "y los fijos llevan ahora el prefijo 60 más el indicativo de la ciudad "
    "(por ejemplo 601 234 5678 en Bogotá); si es de otro país, escríbalo con + y el indicativo."
)
_HINT_OTHER: Final = (
    "Escriba el número completo con + y el indicativo del país (por ejemplo +57 300 123 4567)."
)
_HINT_TYPE: Final = "Escriba el número como texto o como número entero, por ejemplo 3001234567."
_HINT_CHARACTERS: Final = (
    "Deje solo los dígitos (y un + inicial si tiene indicativo de país); quite palabras como "
    "«Cel» o «Tel», y si hay varios números sepárelos con «/»."
)
_HINT_SCIENTIFIC: Final = "Formatee la columna como Texto y vuelva a escribir el número completo."

_KIND_NAMES: Final[dict[int, str]] = {
    PhoneNumberType.TOLL_FREE: "línea gratuita",
    PhoneNumberType.PREMIUM_RATE: "línea de tarifa especial",
    PhoneNumberType.SHARED_COST: "línea de costo compartido",
    PhoneNumberType.VOIP: "telefonía por internet (VoIP)",
    PhoneNumberType.PERSONAL_NUMBER: "número personal",
    PhoneNumberType.PAGER: "buscapersonas",
    PhoneNumberType.UAN: "número corporativo",
    PhoneNumberType.VOICEMAIL: "buzón de voz",
}


def _country(region: str | None) -> str:
    if region is None:
        return "el país indicado"
    return _COUNTRY_NAMES.get(region, f"la región {region}")


def _hint(region: str | None) -> str:
    return _HINT_CO if region == "CO" else _HINT_OTHER


def _show(raw: object) -> str:
    """The raw value as it can be quoted in a message (short, one line)."""
    if raw is None:
        return ""
    if isinstance(raw, int) and not isinstance(raw, bool) and raw.bit_length() > 200:
        return "número de más de 60 dígitos"
    text = raw if isinstance(raw, str) else str(raw)
    text = "".join(" " if (ch.isspace() or not ch.isprintable()) else ch for ch in text[:200])
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:59] + "…"


def _error(code: str, raw: object, problem: str, hint: str) -> InvalidPhoneNumber:
    return InvalidPhoneNumber(f"El teléfono «{_show(raw)}» {problem}. {hint}", code=code, value=raw)


def _empty_error(raw: object, region: str | None) -> InvalidPhoneNumber:
    return InvalidPhoneNumber(
        f"El teléfono está vacío (valor recibido: «{_show(raw)}»). "
        + (
            "Escriba el celular con sus 10 dígitos, por ejemplo 3001234567."
            if region == "CO"
            else _HINT_OTHER
        ),
        code=EMPTY,
        value=raw,
    )


def _decimals_error(raw: object, region: str | None) -> InvalidPhoneNumber:
    return _error(
        INVALID_NUMBER,
        raw,
        "tiene decimales y un teléfono es un número entero",
        "Formatee la columna como Texto y escriba solo los dígitos del número. " + _hint(region),
    )


def _too_long_error(raw: object, region: str | None) -> InvalidPhoneNumber:
    return _error(
        TOO_LONG,
        raw,
        "tiene demasiados dígitos para ser un teléfono",
        "Revise que no sobren dígitos ni haya dos números pegados (sepárelos con «/»). "
        + _hint(region),
    )


_PARSE_ERRORS: Final[dict[int, str]] = {
    NumberParseException.INVALID_COUNTRY_CODE: INVALID_COUNTRY_CODE,
    NumberParseException.NOT_A_NUMBER: NOT_A_NUMBER,
    NumberParseException.TOO_SHORT_AFTER_IDD: TOO_SHORT,
    NumberParseException.TOO_SHORT_NSN: TOO_SHORT,
    NumberParseException.TOO_LONG: TOO_LONG,
}

_POSSIBILITY_ERRORS: Final[dict[int, str]] = {
    ValidationResult.INVALID_COUNTRY_CODE: INVALID_COUNTRY_CODE,
    ValidationResult.TOO_SHORT: TOO_SHORT,
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: TOO_SHORT,
    ValidationResult.TOO_LONG: TOO_LONG,
    ValidationResult.INVALID_LENGTH: INVALID_LENGTH,
}


def _code_error(code: str, raw: object, region: str | None) -> InvalidPhoneNumber:
    country = _country(region)
    hint = _hint(region)
    if code == INVALID_COUNTRY_CODE:
        return _error(
            code,
            raw,
            "tiene un indicativo de país que no existe",
            "Revise los dígitos después del + (Colombia es +57) o escriba el número sin +.",
        )
    if code == NOT_A_NUMBER:
        return _error(code, raw, "no parece un número de teléfono", hint)
    if code == TOO_SHORT:
        return _error(code, raw, f"tiene muy pocos dígitos para un teléfono de {country}", hint)
    if code == TOO_LONG:
        return _too_long_error(raw, region)
    if code == INVALID_LENGTH:
        return _error(code, raw, f"no tiene una cantidad de dígitos válida para {country}", hint)
    return _error(
        INVALID_NUMBER,
        raw,
        f"no es un número válido en {country}",
        "Revise que no falten ni sobren dígitos. " + hint,
    )


def _extension_warning(extension: str, e164: str) -> PhoneWarning:
    return PhoneWarning(
        EXTENSION_DROPPED,
        f"Se quitó la extensión «{extension}» de {e164}: WhatsApp no usa extensiones. "
        "Verifique que ese número tenga WhatsApp o registre un celular.",
    )
