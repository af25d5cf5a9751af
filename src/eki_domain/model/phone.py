"""Phone numbers: parsing spreadsheet cells and WhatsApp sender ids into E.164.

The value object and its parser live here; the Spanish texts and codes of the problems in
:mod:`eki_domain.model.phone_messages` (re-exported), cleaning a cell's text in
:mod:`eki_domain.model.phone_cells`, and the WhatsApp-id quirks in
:mod:`eki_domain.model.phone_whatsapp`.

Pure domain code (stdlib, attrs, phonenumbers). Two entry points:

* :meth:`PhoneNumber.parse` for values typed by people or read from spreadsheets. It survives
  the usual pitfalls (floats, scientific notation, apostrophes, NBSP, full-width digits,
  ``0057…``, two numbers in one cell, extensions) and raises
  :class:`~eki_domain.errors.InvalidPhoneNumber` with a stable ``code`` (one of
  :data:`PHONE_ERROR_CODES`) and a Spanish message with a fix hint.
* :meth:`PhoneNumber.from_wa_id` for WhatsApp ``wa_id`` values, normalising the Mexican
  (``521…``), Argentine (``549…``) and Brazilian (missing 9th digit) quirks.
  :meth:`PhoneNumber.match_candidates` / :func:`phone_candidates` list every E.164 form under
  which the same person may be stored.

Clean Colombian mobiles take a fast path that matches the national number against the mobile
pattern of phonenumbers' own metadata, giving the same result as the full parse at a fraction of
the cost.
"""

from __future__ import annotations

import decimal
import math
import re
from typing import Final

import attrs
import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from eki_domain.errors import InvalidPhoneNumber
from eki_domain.model.phone_cells import (
    _MAX_DIGITS,
    _MAX_GREEDY_TOKENS,
    _NON_DIGITS_RE,
    _ONLY_EXTENSION_RE,
    _SIMPLE_RE,
    _SPLIT_RE,
    _TOKEN_SPLIT_RE,
    _canonical_part,
    _normalize_unicode,
    _numeric_literal,
    _unwrap,
    _with_prefix,
)
from eki_domain.model.phone_messages import (
    _HINT_TYPE,
    _KIND_NAMES,
    _MOBILE,
    _PARSE_ERRORS,
    _POSSIBILITY_ERRORS,
    FIXED_LINE,
    INVALID_NUMBER,
    INVALID_TYPE,
    NOT_A_NUMBER,
    NOT_MOBILE,
    PHONE_ERROR_CODES,
    PHONE_WARNING_CODES,
    SECOND_NUMBER_IGNORED,
    PhoneKind,
    PhoneWarning,
    _code_error,
    _decimals_error,
    _empty_error,
    _error,
    _extension_warning,
    _hint,
    _show,
    _too_long_error,
)
from eki_domain.model.phone_whatsapp import alternate_e164, wa_id_digits, wa_id_readings

__all__ = [
    "PHONE_ERROR_CODES",
    "PHONE_WARNING_CODES",
    "PhoneKind",
    "PhoneNumber",
    "PhoneWarning",
    "mask_phone",
    "phone_candidates",
]

# --------------------------------------------------------------------------------------------
# Regions and the fast path
# --------------------------------------------------------------------------------------------


_REGIONS: Final[dict[str, str]] = {}
for _r in phonenumbers.SUPPORTED_REGIONS:
    _REGIONS[_r] = _r
    _REGIONS[_r.lower()] = _r


def _region_or_raise(region: object) -> str:
    if isinstance(region, str):
        known = _REGIONS.get(region) or _REGIONS.get(region.strip().upper())
        if known is not None:
            return known
    raise ValueError(
        f"default_region must be an ISO 3166-1 alpha-2 region known to phonenumbers "
        f"(e.g. 'CO', 'MX'); got {region!r}"
    )


def _co_mobile_regex() -> re.Pattern[str]:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CO")
    pattern = None
    if metadata is not None and metadata.mobile is not None:
        pattern = metadata.mobile.national_number_pattern
    if not pattern:  # pragma: no cover - phonenumbers always ships CO metadata
        # A pattern that never matches: every number takes the full (slow) path.
        return re.compile(r"(?!)")
    return re.compile(pattern)


_CO_MOBILE_FULLMATCH: Final = _co_mobile_regex().fullmatch
#: Layout characters the second fast path removes (dots are left to the full parser,
#: which tells a decimal point from a separator).
_LAYOUT_CHARS: Final = str.maketrans("", "", " -()\t")


# --------------------------------------------------------------------------------------------
# The phone number
# --------------------------------------------------------------------------------------------



def _split_country_code(e164: str) -> tuple[int, str]:
    digits = e164[1:] if e164.startswith("+") else e164
    for size in (1, 2, 3):
        prefix = digits[:size]
        if prefix.isdigit() and int(prefix) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return int(prefix), digits[size:]
    return 0, digits


@attrs.frozen(slots=False)  # a dict class is built faster: the fast path needs it
class PhoneNumber:
    """A phone number in E.164 form, with its region and kind.

    Equality and hashing use ``e164``, ``region`` and ``kind`` only: ``warnings`` describe how
    the number was read, not the number itself.
    """

    e164: str
    region: str
    kind: PhoneKind
    warnings: tuple[PhoneWarning, ...] = attrs.field(default=(), eq=False, hash=False)

    def __str__(self) -> str:
        return self.e164

    @property
    def wa_id(self) -> str:
        """The WhatsApp id: the E.164 digits without ``+``."""
        return self.e164[1:]

    @property
    def country_code(self) -> int:
        return _split_country_code(self.e164)[0]

    @property
    def national_number(self) -> str:
        """The digits after the country code (``3001234567`` for ``+573001234567``)."""
        return _split_country_code(self.e164)[1]

    @property
    def masked(self) -> str:
        """``+57***4567``: the one phone mask (:func:`mask_phone`), for screens and logs alike."""
        return mask_phone(self.e164)

    # ----------------------------------------------------------------------------------------

    @classmethod
    def parse(cls, raw: object, default_region: str = "CO") -> PhoneNumber:
        """Read a phone number typed by a person or found in a spreadsheet cell.

        Numbers without ``+`` are read as national numbers of ``default_region``.
        Raises :class:`InvalidPhoneNumber` (code in :data:`PHONE_ERROR_CODES`) for bad values
        and :class:`ValueError` for an unknown ``default_region``.
        """
        if default_region == "CO":
            # Fast path: a clean 10-digit Colombian mobile, as text, int or float.
            if type(raw) is str:
                if (
                    len(raw) == 10
                    and raw[0] == "3"
                    and raw.isdigit()
                    and raw.isascii()
                    and _CO_MOBILE_FULLMATCH(raw)
                ):
                    return _co_mobile("+57" + raw)
                if raw.isascii():
                    # Second fast path: "300 123 4567", "(300) 123-4567", "+57 300…", "57300…"
                    # (spaces, dashes and parentheses only; anything else takes the full path).
                    stripped = raw.translate(_LAYOUT_CHARS)
                    plus = stripped[:1] == "+"
                    digits = stripped[1:] if plus else stripped
                    if digits.isdigit():
                        size = len(digits)
                        if size == 12 and digits[:3] == "573":
                            national = digits[2:]
                        elif size == 10 and not plus and digits[0] == "3":
                            national = digits
                        else:
                            national = ""
                        if national and _CO_MOBILE_FULLMATCH(national):
                            return _co_mobile("+57" + national)
            elif type(raw) is int:
                if 3_000_000_000 <= raw < 4_000_000_000:
                    digits = str(raw)
                    if _CO_MOBILE_FULLMATCH(digits):
                        return _co_mobile("+57" + digits)
            elif type(raw) is float and 3e9 <= raw < 4e9 and raw.is_integer():
                digits = str(int(raw))
                if _CO_MOBILE_FULLMATCH(digits):
                    return _co_mobile("+57" + digits)
            return _parse_value(raw, "CO")
        return _parse_value(raw, _region_or_raise(default_region))

    @classmethod
    def from_wa_id(cls, wa_id: str | int) -> PhoneNumber:
        """Read the ``wa_id`` of a WhatsApp sender (international digits, ``+`` optional).

        Normalises known quirks to the E.164 that phonenumbers considers valid: Mexico
        ``521`` + 10 digits → ``+52`` + 10 digits; Brazil mobiles missing the 9th digit; Argentine
        ``54`` + 10 digits that are only valid as a mobile with the ``9``.
        """
        digits = wa_id_digits(wa_id)
        for reading in wa_id_readings(digits):
            try:
                return _parse_canonical(reading, None, wa_id)
            except InvalidPhoneNumber:
                pass
        return _parse_canonical("+" + digits, None, wa_id)  # the error of the id as given

    def match_candidates(self) -> tuple[str, ...]:
        """Every E.164 under which the same WhatsApp user may be stored, ``self.e164`` first."""
        other = alternate_e164(*_split_country_code(self.e164))
        if other is None or other == self.e164:
            return (self.e164,)
        return (self.e164, other)


def _co_mobile(e164: str) -> PhoneNumber:
    """The fast-path result, a Colombian mobile without warnings.

    Fills the instance dict directly: 20-30% faster than the attrs ``__init__`` of a frozen
    class. Must stay equivalent to ``PhoneNumber(e164, "CO", PhoneKind.MOBILE)`` (the tests
    check it); PhoneNumber has no validators or ``__attrs_post_init__`` to skip.
    """
    number = object.__new__(PhoneNumber)
    fields = number.__dict__
    fields["e164"] = e164
    fields["region"] = "CO"
    fields["kind"] = _MOBILE
    fields["warnings"] = ()
    return number


def mask_phone(phone: str) -> str:
    """The one mask of a phone number or WhatsApp id — in logs, on screens, in what the
    model reads: the country code and the last 4 digits, nothing else, so numbers can be
    told apart (and their owner recognises theirs) without being readable.

    ``+573001234567`` → ``+57***4567``; ``573001234567`` (a WhatsApp id) → ``57***4567``;
    ``+59894231234`` → ``+598***1234``; short or odd values (a business-scoped user id, a
    test id) keep only their last 4 characters.
    """
    value = phone.strip()
    if len(value) <= 4:
        return "***"
    digits = value.removeprefix("+")
    if len(value) <= 8 or not digits.isdigit():
        return "***" + value[-4:]
    code, national = _split_country_code(digits)
    if code == 0 or len(national) < 6:
        return "***" + value[-4:]
    return f"{'+' if value.startswith('+') else ''}{code}***{national[-4:]}"


def phone_candidates(wa_id: str | int) -> tuple[str, ...]:
    """E.164 forms to look a WhatsApp sender up by; ``("+<digits>",)`` if the id is not valid.

    Returns ``()`` when the id contains no digit at all.
    """
    try:
        return PhoneNumber.from_wa_id(wa_id).match_candidates()
    except InvalidPhoneNumber:
        text = str(wa_id) if not isinstance(wa_id, bool) else ""
        digits = "".join(ch for ch in text if ch.isdigit() and ch.isascii())
        return ("+" + digits,) if digits else ()


# --------------------------------------------------------------------------------------------
# Parsing internals
# --------------------------------------------------------------------------------------------

def _parse_slow(text: str, region: str | None, raw: object = None) -> PhoneNumber:
    """The full phonenumbers parse (no fast path). ``raw`` is quoted in error messages."""
    shown = text if raw is None else raw
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise _code_error(_PARSE_ERRORS.get(exc.error_type, NOT_A_NUMBER), shown, region) from None
    # number_type() is UNKNOWN exactly when is_valid_number() is False; one call does both.
    number_type = phonenumbers.number_type(number)
    if number_type == PhoneNumberType.UNKNOWN:
        number_region: str | None = phonenumbers.region_code_for_country_code(
            number.country_code or 0
        )
        if number_region == phonenumbers.UNKNOWN_REGION:
            number_region = region
        reason = phonenumbers.is_possible_number_with_reason(number)
        code = _POSSIBILITY_ERRORS.get(reason, INVALID_NUMBER)
        raise _code_error(code, shown, number_region)
    extension = number.extension
    e164 = f"+{number.country_code}{phonenumbers.national_significant_number(number)}"
    found_region = phonenumbers.region_code_for_number(number) or phonenumbers.UNKNOWN_REGION
    warnings: list[PhoneWarning] = []
    if number_type in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE):
        kind = PhoneKind.MOBILE
    elif number_type == PhoneNumberType.FIXED_LINE:
        kind = PhoneKind.FIXED
        warnings.append(
            PhoneWarning(
                FIXED_LINE,
                f"El {e164} es un teléfono fijo, probablemente sin WhatsApp. "
                "Si el estudiante o su acudiente tiene celular, registre el celular.",
            )
        )
    else:
        kind = PhoneKind.OTHER
        name = _KIND_NAMES.get(number_type, "tipo de línea desconocido")
        warnings.append(
            PhoneWarning(
                NOT_MOBILE,
                f"El {e164} no es un celular ({name}), probablemente sin WhatsApp. "
                "Verifique el número o registre un celular.",
            )
        )
    if extension:
        warnings.append(_extension_warning(extension, e164))
    return PhoneNumber(e164, found_region, kind, tuple(warnings))


def _parse_canonical(text: str, region: str | None, raw: object) -> PhoneNumber:
    """Parse ``text`` made of digits with an optional leading ``+``; fast path when possible."""
    size = len(text)
    national: str | None = None
    if size == 13:
        if text.startswith("+573"):
            national = text[3:]
    elif region == "CO":
        if size == 10:
            if text[0] == "3":
                national = text
        elif size == 12 and text.startswith("573"):
            national = text[2:]
    if national is not None and _CO_MOBILE_FULLMATCH(national):
        return _co_mobile("+57" + national)
    try:
        return _parse_slow(text, region, raw)
    except InvalidPhoneNumber:
        fixed = _obsolete_mobile_form(text)
        if fixed is not None:
            try:
                return _parse_slow(fixed, region, raw)
            except InvalidPhoneNumber:
                pass
        raise


def _obsolete_mobile_form(text: str) -> str | None:
    """The current form of an international mobile written the old way, or None.

    Mexico dropped the "1" after +52 in 2019; Brazil added a leading 9 to 8-digit mobiles
    (6-9…) by 2016. Old records and WhatsApp ids still carry the old forms.
    """
    size = len(text)
    if size == 14 and text.startswith("+521"):
        return "+52" + text[4:]
    if size == 13 and text.startswith("+55") and text[5] in "6789":
        return text[:5] + "9" + text[5:]
    return None


def _parse_value(raw: object, region: str) -> PhoneNumber:
    if isinstance(raw, str):
        return _parse_text(str(raw), region, raw)
    if raw is None:
        raise _empty_error(raw, region)
    if isinstance(raw, bool):
        raise _error(INVALID_TYPE, raw, "es un valor verdadero/falso, no un número", _HINT_TYPE)
    if isinstance(raw, int):
        return _parse_integer(int(raw), region, raw)
    if isinstance(raw, float):
        if math.isnan(raw):
            raise _empty_error(raw, region)
        if math.isinf(raw):
            raise _error(INVALID_NUMBER, raw, "no es un número finito", _hint(region))
        if not raw.is_integer():
            raise _decimals_error(raw, region)
        if abs(raw) >= 1e16:
            raise _too_long_error(raw, region)
        return _parse_integer(int(raw), region, raw)
    if isinstance(raw, decimal.Decimal):
        if raw.is_nan():
            raise _empty_error(raw, region)
        if not raw.is_finite():
            raise _error(INVALID_NUMBER, raw, "no es un número finito", _hint(region))
        if raw.adjusted() >= 16:
            raise _too_long_error(raw, region)
        if raw != raw.to_integral_value():
            raise _decimals_error(raw, region)
        return _parse_integer(int(raw), region, raw)
    raise _error(
        INVALID_TYPE,
        raw,
        f"tiene un tipo de dato que no es texto ni número ({type(raw).__name__})",
        _HINT_TYPE,
    )


def _parse_integer(value: int, region: str, raw: object) -> PhoneNumber:
    if value < 0:
        raise _error(
            INVALID_NUMBER, raw, "es un número negativo", "Escriba el número sin el signo «-»."
        )
    if value.bit_length() > 64:
        raise _too_long_error(raw, region)
    return _parse_canonical(str(value), region, raw)


def _greedy_split(part: str, region: str) -> list[str] | None:
    """Split a cell with several numbers separated only by spaces/dashes, or None."""
    tokens = [token for token in _TOKEN_SPLIT_RE.split(part) if token]
    if not 2 <= len(tokens) <= _MAX_GREEDY_TOKENS:
        return None
    found: list[str] = []
    pending = ""
    for token in tokens:
        pending += token
        if len(_NON_DIGITS_RE.sub("", pending)) < 7:
            continue
        try:
            text, _ = _canonical_part(pending, region, pending)
            _parse_canonical(text, region, pending)
        except InvalidPhoneNumber:
            continue
        found.append(pending)
        pending = ""
    if not found:
        return None
    if pending:
        found.append(pending)
    return found


def _parse_text(text: str, region: str, raw: object) -> PhoneNumber:
    if not text.isascii():
        text = _normalize_unicode(text)
    text = _unwrap(text)
    if not text:
        raise _empty_error(raw, region)
    if text[0] in "0123456789+":
        literal = _numeric_literal(text, raw, region)
        if literal is not None:
            return _parse_canonical(literal, region, raw)

    # Common case: one number written with spaces, dashes, dots or parentheses.
    plus = text[0] == "+" or text.startswith("(+")
    if _SIMPLE_RE.fullmatch(text, 2 if text[0] == "(" and plus else int(plus)):
        digits = _NON_DIGITS_RE.sub("", text)
        if 0 < len(digits) <= _MAX_DIGITS:
            return _parse_canonical(_with_prefix(digits, plus), region, raw)

    parts = [piece for piece in map(_unwrap, _SPLIT_RE.split(text)) if piece]
    if not parts:
        raise _empty_error(raw, region)

    chosen: PhoneNumber | None = None
    ignored: list[str] = []
    extension_warnings: list[PhoneWarning] = []
    first_error: InvalidPhoneNumber | None = None
    index = 0
    while index < len(parts):
        part = parts[index]
        index += 1
        if chosen is not None:
            only_extension = _ONLY_EXTENSION_RE.fullmatch(part)
            if only_extension is not None:
                extension_warnings.append(_extension_warning(only_extension.group(1), chosen.e164))
            else:
                ignored.append(part)
            continue
        if len(_NON_DIGITS_RE.sub("", part)) > _MAX_DIGITS:
            pieces = _greedy_split(part, region)
            if pieces is not None:
                parts[index - 1 : index] = pieces
                index -= 1
                continue
        try:
            canonical, extension = _canonical_part(part, region, raw)
            number = _parse_canonical(canonical, region, raw)
        except InvalidPhoneNumber as exc:
            if first_error is None:
                first_error = exc
            ignored.append(part)
            continue
        chosen = number
        if extension is not None:
            extension_warnings.append(_extension_warning(extension, number.e164))

    if chosen is None:
        if first_error is None:  # pragma: no cover - parts is never empty here
            raise _empty_error(raw, region)
        raise first_error
    if not ignored and not extension_warnings:
        return chosen
    warnings = list(chosen.warnings)
    warnings.extend(extension_warnings)
    if ignored:
        shown = ", ".join(f"«{_show(piece)}»" for piece in ignored)
        warnings.append(
            PhoneWarning(
                SECOND_NUMBER_IGNORED,
                f"La celda tenía más de un número: se usó {chosen.e164} y se ignoró {shown}. "
                "Si también necesita el otro número, regístrelo aparte.",
            )
        )
    return attrs.evolve(chosen, warnings=tuple(warnings))
