"""Cleaning what a spreadsheet cell holds before it is read as a phone number: Unicode
look-alikes, wrappers (``'300…``, ``="300…"``), number literals (``3001234567.0``,
``3.001234567E9``), several numbers or an extension in one cell."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from eki_domain.model.phone_messages import (
    _HINT_CHARACTERS,
    _HINT_SCIENTIFIC,
    INVALID_CHARACTERS,
    NOT_A_NUMBER,
    SCIENTIFIC_NOTATION_DIGITS_LOST,
    _code_error,
    _decimals_error,
    _error,
    _too_long_error,
)

_LINE_BREAKS: Final = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
_DASHES: Final = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d")
_QUOTES: Final = frozenset("\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u00b4\u2032")
_WRAPPING: Final = "'\"`="

_SCIENTIFIC_RE: Final = re.compile(r"(\+?)(\d+)(?:[.,](\d*))?\s*[eE]\s*([+-]?\d+)")
_DECIMAL_RE: Final = re.compile(r"(\+?\d+)[.,](\d+)")
_THOUSANDS_RE: Final = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.0+)?|\d{1,3}(?:\.\d{3})+(?:,0+)?")
_SPLIT_RE: Final = re.compile(r"\s*[/,;|\n\r\v\f\x1c-\x1e]\s*|\s+(?:y|o|ó|&)\s+", re.IGNORECASE)
_EXTENSION_RE: Final = re.compile(
    r"\s*(?:ext(?:ensi[oó]n|n)?|anexo|x|\#)\s*[.:]?\s*(\d{1,7})\s*$", re.IGNORECASE
)
_ONLY_EXTENSION_RE: Final = re.compile(
    r"(?:ext(?:ensi[oó]n|n)?|anexo|x|\#)\s*[.:]?\s*(\d{1,7})", re.IGNORECASE
)
_BAD_CHARS_RE: Final = re.compile(r"[^0-9\s+\-.()\[\]]")
_NON_DIGITS_RE: Final = re.compile(r"[^0-9]+")
_SIMPLE_RE: Final = re.compile(r"[0-9 ().\-\[\]]+")
_TOKEN_SPLIT_RE: Final = re.compile(r"[\s\-.()\[\]]+")

_MAX_DIGITS: Final = 15  # E.164 maximum, country code included
_MAX_GREEDY_TOKENS: Final = 16


def _normalize_unicode(text: str) -> str:
    """NFKC, unicode spaces/line breaks/dashes/quotes to ASCII, drop format chars (ZWSP, BOM)."""
    text = unicodedata.normalize("NFKC", text)
    out: list[str] = []
    for ch in text:
        if ch.isascii():
            out.append(ch)
        elif ch in _LINE_BREAKS:
            out.append("\n")
        elif ch.isspace():
            out.append(" ")
        elif unicodedata.category(ch) == "Cf":
            continue
        elif ch.isdecimal():
            out.append(str(unicodedata.decimal(ch)))
        elif ch in _DASHES:
            out.append("-")
        elif ch in _QUOTES:
            out.append("'")
        else:
            out.append(ch)
    return "".join(out)


def _unwrap(text: str) -> str:
    """Strip spaces and spreadsheet wrappers: ``'300…``, ``"300…"``, ``="300…"``."""
    text = text.strip()
    if text and (text[0] in _WRAPPING or text[-1] in _WRAPPING):
        text = text.lstrip(_WRAPPING + " \t").rstrip("'\"` \t")
    return text


def _numeric_literal(text: str, raw: object, region: str) -> str | None:
    """Digits of a cell that is a number literal (``3001234567.0``, ``3.001234567E9``…).

    Returns None when the text is not such a literal. Raises when it is one that cannot be a
    phone number (decimals, digits lost to scientific notation).
    """
    if "e" in text or "E" in text:
        match = _SCIENTIFIC_RE.fullmatch(text)
        if match is None:
            return None
        plus, whole, fraction, exponent_text = match.groups()
        fraction = fraction or ""
        if len(exponent_text.lstrip("+-")) > 3:
            raise _too_long_error(raw, region)
        shift = int(exponent_text) - len(fraction)
        mantissa = whole + fraction
        if shift > 0:
            significant = mantissa.lstrip("0")
            rounded = (significant + "0" * shift) if significant else "0"
            raise _error(
                SCIENTIFIC_NOTATION_DIGITS_LOST,
                raw,
                f"quedó en notación científica y la hoja de cálculo perdió dígitos (solo "
                f"conservó {len(significant)} de {len(rounded)}; se leería {rounded})",
                _HINT_SCIENTIFIC,
            )
        if shift < 0:
            dropped = mantissa[shift:]
            if dropped.strip("0"):
                raise _decimals_error(raw, region)
            mantissa = mantissa[:shift]
        digits = mantissa.lstrip("0")
        if not digits:
            return None  # "0E0": let the normal path report it
        return plus + digits
    if "." in text or "," in text:
        match = _DECIMAL_RE.fullmatch(text)
        if match is not None:
            whole, fraction = match.groups()
            if not fraction.strip("0"):
                return whole
            if len(whole.lstrip("+")) >= 7 and len(fraction) <= 2:
                raise _decimals_error(raw, region)
            return None
        if _THOUSANDS_RE.fullmatch(text):
            for decimals_sep in (".", ","):
                head, sep, tail = text.rpartition(decimals_sep)
                if sep and len(tail) != 3 and not tail.strip("0"):
                    text = head
                    break
            return _NON_DIGITS_RE.sub("", text)
    return None


def _canonical_part(part: str, region: str, raw: object) -> tuple[str, str | None]:
    """Digits of one number (``+`` kept, ``00`` rewritten) and its dropped extension, if any.

    Raises for characters that cannot belong to a phone number.
    """
    extension: str | None = None
    match = _EXTENSION_RE.search(part)
    if match is not None and match.start() > 0:
        extension = match.group(1)
        part = part[: match.start()]
    if _BAD_CHARS_RE.search(part):
        bad = sorted({ch for ch in part if _BAD_CHARS_RE.fullmatch(ch)})
        shown = ", ".join(f"«{ch}»" for ch in bad[:5])
        raise _error(
            INVALID_CHARACTERS,
            raw,
            f"contiene caracteres que no son parte de un número ({shown})",
            _HINT_CHARACTERS,
        )
    digits = _NON_DIGITS_RE.sub("", part)
    if not digits:
        raise _code_error(NOT_A_NUMBER, raw, region)
    plus = part.lstrip(" ([").startswith("+")
    if part.count("+") != (1 if plus else 0):
        raise _error(
            INVALID_CHARACTERS,
            raw,
            "tiene un signo + que no está al inicio del número",
            _HINT_CHARACTERS,
        )
    return _with_prefix(digits, plus), extension


def _with_prefix(digits: str, plus: bool) -> str:
    if digits.startswith("00"):
        # International prefix: "0057 300…" is +57, not a Russian number (+7).
        return "+" + digits[2:]
    return "+" + digits if plus else digits
