"""PhoneNumber: spreadsheet pitfalls, kinds and warnings, WhatsApp ids and their quirks."""

from __future__ import annotations

import decimal

import pytest

from eki_domain.errors import InvalidPhoneNumber
from eki_domain.model import phone as phone_module
from eki_domain.model.phone import (
    PHONE_ERROR_CODES,
    PhoneKind,
    PhoneNumber,
    PhoneWarning,
    phone_candidates,
)

MOBILE = "+573001234567"
LANDLINE = "+576012345678"
FIXED = PhoneKind.FIXED
CELL = PhoneKind.MOBILE
FIXED_EXT = ("FIXED_LINE", "EXTENSION_DROPPED")
TWO = ("SECOND_NUMBER_IGNORED",)
# ASCII digits and "+" to their full-width forms (U+FF10…, U+FF0B), as typed with some IMEs.
FULL_WIDTH = {ord(ch): ord(ch) + 0xFEE0 for ch in "0123456789+"}

# (raw value, default region, expected E.164, expected kind, expected warning codes)
VALID: list[tuple[object, str, str, PhoneKind, tuple[str, ...]]] = [
    # clean values (fast path)
    ("3001234567", "CO", MOBILE, CELL, ()),
    (3001234567, "CO", MOBILE, CELL, ()),
    ("573001234567", "CO", MOBILE, CELL, ()),
    ("+573001234567", "CO", MOBILE, CELL, ()),
    ("+573001234567", "MX", MOBILE, PhoneKind.MOBILE, ()),
    (573001234567, "CO", MOBILE, CELL, ()),
    # spreadsheet floats and float exports
    (3001234567.0, "CO", MOBILE, CELL, ()),
    (573001234567.0, "CO", MOBILE, CELL, ()),
    ("3001234567.0", "CO", MOBILE, CELL, ()),
    ("3001234567,00", "CO", MOBILE, CELL, ()),
    (decimal.Decimal("3001234567"), "CO", MOBILE, CELL, ()),
    (decimal.Decimal("3001234567.00"), "CO", MOBILE, CELL, ()),
    ("3,001,234,567", "CO", MOBILE, CELL, ()),
    ("3.001.234.567", "CO", MOBILE, CELL, ()),
    # scientific notation that kept every digit
    ("3.001234567E9", "CO", MOBILE, CELL, ()),
    ("3.001234567E+09", "CO", MOBILE, CELL, ()),
    ("3,001234567E+09", "CO", MOBILE, CELL, ()),
    ("5.73001234567e11", "CO", MOBILE, CELL, ()),
    ("3.0012345670E9", "CO", MOBILE, CELL, ()),
    # text pitfalls
    ("'3001234567", "CO", MOBILE, CELL, ()),
    ('="3001234567"', "CO", MOBILE, CELL, ()),
    ('"300 123 4567"', "CO", MOBILE, CELL, ()),
    ("  3001234567\t", "CO", MOBILE, CELL, ()),
    ("\u00a0300\u00a0123\u00a04567\u00a0", "CO", MOBILE, CELL, ()),
    ("300\u202f123\u20094567", "CO", MOBILE, CELL, ()),
    ("\u200b3001234567\u200e", "CO", MOBILE, CELL, ()),
    ("\ufeff300\u2060123\u200f4567", "CO", MOBILE, CELL, ()),
    ("3001234567".translate(FULL_WIDTH), "CO", MOBILE, CELL, ()),
    ("+57 300 123 4567".translate(FULL_WIDTH), "CO", MOBILE, CELL, ()),
    ("\u0663\u0660\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667", "CO", MOBILE, CELL, ()),
    ("300\u2013123\u20134567", "CO", MOBILE, CELL, ()),  # en dashes
    ("300\u2011123\u22124567", "CO", MOBILE, CELL, ()),  # non-breaking hyphen, minus sign
    ("(300) 123-4567", "CO", MOBILE, CELL, ()),
    ("300-123-4567", "CO", MOBILE, CELL, ()),
    ("300.123.4567", "CO", MOBILE, CELL, ()),
    ("(+57) 300.123.4567", "CO", MOBILE, CELL, ()),
    ("+57 300 123 4567", "CO", MOBILE, CELL, ()),
    ("+57 (300) 123-4567", "CO", MOBILE, CELL, ()),
    ("57 300 123 4567", "CO", MOBILE, CELL, ()),
    ("0057 300 123 4567", "CO", MOBILE, CELL, ()),
    ("00573001234567", "CO", MOBILE, CELL, ()),
    ("+0057 300 123 4567", "CO", MOBILE, CELL, ()),
    # two numbers in one cell
    ("3001234567 / 3109876543", "CO", MOBILE, CELL, TWO),
    ("3001234567, 3109876543", "CO", MOBILE, CELL, TWO),
    ("3001234567,3109876543", "CO", MOBILE, CELL, TWO),
    ("3001234567;3109876543", "CO", MOBILE, CELL, TWO),
    ("3001234567 | 3109876543", "CO", MOBILE, CELL, TWO),
    ("3001234567\n3109876543", "CO", MOBILE, CELL, TWO),
    ("3001234567\r\n3109876543", "CO", MOBILE, CELL, TWO),
    ("3001234567 y 3109876543", "CO", MOBILE, CELL, TWO),
    ("3001234567 o 3109876543", "CO", MOBILE, CELL, TWO),
    ("3001234567 Y 3109876543", "CO", MOBILE, CELL, TWO),
    ("3001234567 3109876543", "CO", MOBILE, CELL, TWO),
    ("300 123 4567 - 310 987 6543", "CO", MOBILE, CELL, TWO),
    ("+57 300 123 4567 +57 310 987 6543", "CO", MOBILE, CELL, TWO),
    ("2345678 / 3001234567", "CO", MOBILE, CELL, TWO),
    ("mamá / 3001234567", "CO", MOBILE, CELL, TWO),
    ("3001234567 /", "CO", MOBILE, CELL, ()),
    # extensions
    ("601 2345678 ext 12", "CO", LANDLINE, FIXED, FIXED_EXT),
    ("601 2345678 ext. 12", "CO", LANDLINE, FIXED, FIXED_EXT),
    ("601 2345678 Ext: 12", "CO", LANDLINE, FIXED, FIXED_EXT),
    ("601 2345678 x12", "CO", LANDLINE, FIXED, FIXED_EXT),
    ("6012345678x12", "CO", LANDLINE, FIXED, FIXED_EXT),
    ("601 2345678 extensión 12", "CO", LANDLINE, FIXED, FIXED_EXT),
    ("601 2345678 extension 12", "CO", LANDLINE, FIXED, FIXED_EXT),
    ("601 2345678 #12", "CO", LANDLINE, FIXED, FIXED_EXT),
    ("601 2345678, ext 12", "CO", LANDLINE, FIXED, FIXED_EXT),
    ("3001234567 ext 5", "CO", MOBILE, PhoneKind.MOBILE, ("EXTENSION_DROPPED",)),
    # kinds
    ("601 2345678", "CO", "+576012345678", PhoneKind.FIXED, ("FIXED_LINE",)),
    ("604 4445566", "CO", "+576044445566", PhoneKind.FIXED, ("FIXED_LINE",)),
    ("1800 123 4567", "CO", "+5718001234567", PhoneKind.OTHER, ("NOT_MOBILE",)),
    ("+44 56 1234 5678", "CO", "+445612345678", PhoneKind.OTHER, ("NOT_MOBILE",)),
    ("+1 201 555 0123", "CO", "+12015550123", PhoneKind.MOBILE, ()),  # fixed line or mobile
    ("+44 (0) 20 7946 0000", "CO", "+442079460000", PhoneKind.FIXED, ("FIXED_LINE",)),
    # other regions, and numbers of other countries
    ("55 1234 5678", "MX", "+525512345678", PhoneKind.MOBILE, ()),
    ("(55) 1234-5678", "mx", "+525512345678", PhoneKind.MOBILE, ()),
    ("+52 1 55 1234 5678", "CO", "+525512345678", PhoneKind.MOBILE, ()),  # obsolete MX "1"
    ("+54 9 11 2345-6789", "CO", "+5491123456789", PhoneKind.MOBILE, ()),
    ("+55 11 96123-4567", "CO", "+5511961234567", PhoneKind.MOBILE, ()),
    ("+55 11 8765-4321", "CO", "+5511987654321", PhoneKind.MOBILE, ()),  # no 9th digit
    ("+55 11 3333-4444", "CO", "+551133334444", PhoneKind.FIXED, ("FIXED_LINE",)),
    ("0412 1234567", "VE", "+584121234567", PhoneKind.MOBILE, ()),
    ("00 58 412 1234567", "CO", "+584121234567", PhoneKind.MOBILE, ()),
]

# (raw value, default region, expected error code)
INVALID: list[tuple[object, str, str]] = [
    (None, "CO", "EMPTY"),
    ("", "CO", "EMPTY"),
    ("   ", "CO", "EMPTY"),
    ("\u00a0\u200b", "CO", "EMPTY"),
    ("'", "CO", "EMPTY"),
    (" / ", "CO", "EMPTY"),
    (float("nan"), "CO", "EMPTY"),
    (decimal.Decimal("NaN"), "CO", "EMPTY"),
    (True, "CO", "INVALID_TYPE"),
    (False, "CO", "INVALID_TYPE"),
    ([3001234567], "CO", "INVALID_TYPE"),
    (b"3001234567", "CO", "INVALID_TYPE"),
    (object(), "CO", "INVALID_TYPE"),
    (3001234567.5, "CO", "INVALID_NUMBER"),
    ("3001234567.5", "CO", "INVALID_NUMBER"),
    (decimal.Decimal("3001234567.5"), "CO", "INVALID_NUMBER"),
    (float("inf"), "CO", "INVALID_NUMBER"),
    (float("-inf"), "CO", "INVALID_NUMBER"),
    (decimal.Decimal("Infinity"), "CO", "INVALID_NUMBER"),
    (-3001234567, "CO", "INVALID_NUMBER"),
    ("3.00123E+09", "CO", "SCIENTIFIC_NOTATION_DIGITS_LOST"),
    ("3,00123E+09", "CO", "SCIENTIFIC_NOTATION_DIGITS_LOST"),
    ("3E9", "CO", "SCIENTIFIC_NOTATION_DIGITS_LOST"),
    ("5.73001E+11", "CO", "SCIENTIFIC_NOTATION_DIGITS_LOST"),
    ("3.0012345675E9", "CO", "INVALID_NUMBER"),  # 3001234567.5
    ("1e999999", "CO", "TOO_LONG"),
    ("Cel 3001234567", "CO", "INVALID_CHARACTERS"),
    ("300-CALL-NOW", "CO", "INVALID_CHARACTERS"),
    ("3001234567 ext", "CO", "INVALID_CHARACTERS"),
    ("300*123*4567", "CO", "INVALID_CHARACTERS"),
    ("300 123 4567+", "CO", "INVALID_CHARACTERS"),
    ("---", "CO", "NOT_A_NUMBER"),
    ("1", "CO", "NOT_A_NUMBER"),
    ("+999 1234567", "CO", "INVALID_COUNTRY_CODE"),
    ("2345678", "CO", "TOO_SHORT"),  # old 7-digit landline
    (2345678, "CO", "TOO_SHORT"),
    ("1234", "CO", "TOO_SHORT"),
    ("300123456", "CO", "INVALID_LENGTH"),
    ("1234567890123456", "CO", "TOO_LONG"),
    (10**30, "CO", "TOO_LONG"),
    (1e20, "CO", "TOO_LONG"),
    ("3991234567", "CO", "INVALID_NUMBER"),  # possible length, no such prefix
    ("30012345678", "CO", "INVALID_NUMBER"),
    ("+57 1 234 5678", "CO", "INVALID_NUMBER"),  # Bogotá before the 60X prefix
    ("0057 300 123", "CO", "TOO_SHORT"),
]


@pytest.mark.parametrize(("raw", "region", "e164", "kind", "warnings"), VALID)
def test_parse_accepts_spreadsheet_values(
    raw: object, region: str, e164: str, kind: PhoneKind, warnings: tuple[str, ...]
) -> None:
    number = PhoneNumber.parse(raw, region)
    assert number.e164 == e164
    assert number.kind is kind
    assert tuple(w.code for w in number.warnings) == warnings
    for warning in number.warnings:
        assert isinstance(warning, PhoneWarning)
        assert warning.message
    assert PhoneNumber.parse(number.e164) == number


@pytest.mark.parametrize(("raw", "region", "code"), INVALID)
def test_parse_rejects_with_a_stable_code(raw: object, region: str, code: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        PhoneNumber.parse(raw, region)
    error = caught.value
    assert error.code == code
    assert error.code in PHONE_ERROR_CODES
    assert error.value is raw
    assert isinstance(error, ValueError)
    assert error.message
    assert str(error) == error.message
    assert error.message.startswith("El teléfono")
    assert "«" in error.message  # quotes the value
    assert len(error.message) > 60  # says how to fix it


def test_default_region_is_colombia() -> None:
    assert PhoneNumber.parse("3001234567") == PhoneNumber.parse("3001234567", "CO")


def test_error_messages_are_spanish_with_a_fix_hint() -> None:
    cases = {
        "3.00123E+09": "Formatee la columna como Texto y vuelva a escribir el número completo",
        "2345678": "empiezan por 3",
        "Cel 3001234567": "Deje solo los dígitos",
        "+999 1234567": "Colombia es +57",
        "": "Escriba el celular",
        "3991234567": "Revise",
    }
    for raw, hint in cases.items():
        with pytest.raises(InvalidPhoneNumber) as caught:
            PhoneNumber.parse(raw)
        assert hint in caught.value.message, caught.value.message
        if raw:
            assert f"«{raw}»" in caught.value.message


def test_old_landline_message_explains_the_60x_prefix() -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        PhoneNumber.parse("2345678")
    message = caught.value.message
    assert "60" in message
    assert "10 dígitos" in message
    assert "Colombia" in message


def test_scientific_notation_message_shows_what_was_lost() -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        PhoneNumber.parse("3.00123E+09")
    assert "3001230000" in caught.value.message
    assert "notación científica" in caught.value.message


def test_error_value_is_the_raw_input_and_long_values_are_shortened() -> None:
    raw = "Cel " + "3001234567 " * 20
    with pytest.raises(InvalidPhoneNumber) as caught:
        PhoneNumber.parse(raw)
    assert caught.value.value == raw
    assert "…" in caught.value.message
    assert len(caught.value.message) < 400


def test_warning_messages() -> None:
    fixed = PhoneNumber.parse("601 2345678 ext 12")
    by_code = {w.code: w.message for w in fixed.warnings}
    assert "fijo" in by_code["FIXED_LINE"]
    assert "probablemente sin WhatsApp" in by_code["FIXED_LINE"]
    assert "«12»" in by_code["EXTENSION_DROPPED"]

    two = PhoneNumber.parse("3001234567 / 3109876543")
    (warning,) = two.warnings
    assert warning.code == "SECOND_NUMBER_IGNORED"
    assert "+573001234567" in warning.message  # which one was kept
    assert "3109876543" in warning.message  # which one was ignored

    later = PhoneNumber.parse("2345678 / 3109876543")
    assert later.e164 == "+573109876543"
    assert "2345678" in later.warnings[0].message

    toll_free = PhoneNumber.parse("1800 123 4567")
    assert "no es un celular" in toll_free.warnings[0].message
    assert "gratuita" in toll_free.warnings[0].message


def test_equality_and_hash_ignore_warnings() -> None:
    with_warning = PhoneNumber.parse("3001234567 / 3109876543")
    clean = PhoneNumber.parse(with_warning.e164)
    assert with_warning.warnings
    assert not clean.warnings
    assert clean == with_warning
    assert hash(clean) == hash(with_warning)
    assert len({clean, with_warning}) == 1
    assert clean != PhoneNumber.parse("3109876543")


def test_fast_path_builds_the_same_object_as_the_constructor() -> None:
    built = PhoneNumber("+573001234567", "CO", PhoneKind.MOBILE)
    for raw in ("3001234567", 3001234567, 3001234567.0, "573001234567", "+573001234567"):
        number = PhoneNumber.parse(raw)
        assert type(number) is PhoneNumber
        assert number == built
        assert (number.e164, number.region, number.kind, number.warnings) == (
            built.e164,
            built.region,
            built.kind,
            built.warnings,
        )
        assert repr(number) == repr(built)


def test_number_is_immutable() -> None:
    number = PhoneNumber.parse("3001234567")
    with pytest.raises(AttributeError):
        number.e164 = "+573109876543"  # type: ignore[misc]


def test_properties() -> None:
    number = PhoneNumber.parse("300 123 4567")
    assert str(number) == "+573001234567"
    assert number.wa_id == "573001234567"
    assert number.masked == "+57***4567"
    assert number.national_number == "3001234567"
    assert number.country_code == 57
    assert number.region == "CO"

    mexico = PhoneNumber.parse("+52 55 1234 5678")
    assert (mexico.country_code, mexico.national_number, mexico.region) == (52, "5512345678", "MX")
    assert mexico.masked == "+52***5678"

    usa = PhoneNumber.parse("+1 201 555 0123")
    assert (usa.country_code, usa.national_number, usa.region) == (1, "2015550123", "US")

    argentina = PhoneNumber.parse("+54 9 11 2345 6789")
    assert argentina.masked == "+54***6789"
    assert argentina.country_code == 54


@pytest.mark.parametrize(
    "e164",
    ["+59894231234", "+50761234567", "+34612345678", "+35312345678", "+4930123456"],
)
def test_masked_hides_at_least_half_of_short_numbers(e164: str) -> None:
    number = PhoneNumber.parse(e164)
    masked = number.masked
    national = number.national_number
    assert masked.startswith(f"+{number.country_code}***")
    shown = masked.removeprefix(f"+{number.country_code}***")
    assert len(shown) <= len(national) / 2  # at least half of the national digits hidden
    assert masked[-2:] == e164[-2:]


@pytest.mark.parametrize("region", ["XX", "", "Colombia", "001", "ZZ"])
def test_unknown_default_region_is_a_programming_error(region: str) -> None:
    with pytest.raises(ValueError, match="default_region") as caught:
        PhoneNumber.parse("3001234567", region)
    assert not isinstance(caught.value, InvalidPhoneNumber)


def test_default_region_is_case_insensitive() -> None:
    assert PhoneNumber.parse("55 1234 5678", "mx").e164 == "+525512345678"
    assert PhoneNumber.parse("3001234567", "co").e164 == MOBILE
    assert PhoneNumber.parse("3001234567", " Co ").e164 == MOBILE


def test_str_subclass_is_text() -> None:
    class Cell(str):
        pass

    assert PhoneNumber.parse(Cell("300 123 4567")).e164 == MOBILE


def test_float_subclass_is_a_number() -> None:
    class Float(float):
        pass

    assert PhoneNumber.parse(Float(3001234567.0)).e164 == MOBILE


# --------------------------------------------------------------------------------------------
# WhatsApp ids
# --------------------------------------------------------------------------------------------

WA_IDS: list[tuple[str | int, str, PhoneKind]] = [
    ("573001234567", MOBILE, PhoneKind.MOBILE),
    ("+573001234567", MOBILE, PhoneKind.MOBILE),
    (573001234567, MOBILE, PhoneKind.MOBILE),
    (" 573001234567 ", MOBILE, PhoneKind.MOBILE),
    ("+57 300 123 4567", MOBILE, PhoneKind.MOBILE),
    # Mexico: wa_id often carries the obsolete mobile "1"
    ("5215512345678", "+525512345678", PhoneKind.MOBILE),
    ("525512345678", "+525512345678", PhoneKind.MOBILE),
    (5215512345678, "+525512345678", PhoneKind.MOBILE),
    # Argentina: 549… is the mobile; 54… + 10 digits is kept when valid as given
    ("5491123456789", "+5491123456789", PhoneKind.MOBILE),
    ("541123456789", "+541123456789", PhoneKind.FIXED),
    # Brazil: mobiles may arrive without the 9th digit
    ("5511987654321", "+5511987654321", PhoneKind.MOBILE),
    ("551187654321", "+5511987654321", PhoneKind.MOBILE),
    ("552198765432", "+5521998765432", PhoneKind.MOBILE),
    ("551133334444", "+551133334444", PhoneKind.FIXED),  # landline: no 9 inserted
    # others
    ("12015550123", "+12015550123", PhoneKind.MOBILE),
    ("447400123456", "+447400123456", PhoneKind.MOBILE),
]


@pytest.mark.parametrize(("wa_id", "e164", "kind"), WA_IDS)
def test_from_wa_id(wa_id: str | int, e164: str, kind: PhoneKind) -> None:
    number = PhoneNumber.from_wa_id(wa_id)
    assert number.e164 == e164
    assert number.kind is kind


@pytest.mark.parametrize(
    ("wa_id", "code"),
    [
        ("", "EMPTY"),
        ("+", "EMPTY"),
        ("abc", "INVALID_CHARACTERS"),
        ("57300123456x", "INVALID_CHARACTERS"),
        (True, "INVALID_TYPE"),
        (-573001234567, "INVALID_NUMBER"),
        ("999123456", "INVALID_COUNTRY_CODE"),
        ("12", "NOT_A_NUMBER"),
        ("57300123456", "INVALID_LENGTH"),
        ("57399123456789012345", "TOO_LONG"),
        ("573991234567", "INVALID_NUMBER"),
        ("5511123", "TOO_SHORT"),
    ],
)
def test_from_wa_id_rejects(wa_id: str | int, code: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        PhoneNumber.from_wa_id(wa_id)
    assert caught.value.code == code
    assert caught.value.value == wa_id
    assert caught.value.message.startswith("El teléfono")


@pytest.mark.parametrize(
    ("wa_id", "candidates"),
    [
        ("573001234567", (MOBILE,)),
        ("5215512345678", ("+525512345678", "+5215512345678")),
        ("525512345678", ("+525512345678", "+5215512345678")),
        ("5491123456789", ("+5491123456789", "+541123456789")),
        ("541123456789", ("+541123456789", "+5491123456789")),
        ("5511987654321", ("+5511987654321", "+551187654321")),
        ("551187654321", ("+5511987654321", "+551187654321")),
        ("551133334444", ("+551133334444",)),
        ("12015550123", ("+12015550123",)),
    ],
)
def test_match_candidates(wa_id: str, candidates: tuple[str, ...]) -> None:
    number = PhoneNumber.from_wa_id(wa_id)
    assert number.match_candidates() == candidates
    assert number.match_candidates()[0] == number.e164
    assert phone_candidates(wa_id) == candidates


@pytest.mark.parametrize(
    ("stored", "wa_id"),
    [
        ("+525512345678", "5215512345678"),
        ("+5215512345678", "525512345678"),
        ("+541123456789", "5491123456789"),
        ("+5491123456789", "541123456789"),
        ("+551187654321", "5511987654321"),
        ("+5511987654321", "551187654321"),
        ("+573001234567", "573001234567"),
    ],
)
def test_a_stored_record_is_among_the_candidates_of_the_sender(stored: str, wa_id: str) -> None:
    assert stored in phone_candidates(wa_id)
    # and a record parsed from a spreadsheet is found the same way
    record = PhoneNumber.parse(stored)
    assert record.e164 in PhoneNumber.from_wa_id(wa_id).match_candidates()


def test_phone_candidates_falls_back_to_the_raw_digits() -> None:
    assert phone_candidates("999123456") == ("+999123456",)
    assert phone_candidates("573991234567") == ("+573991234567",)
    assert phone_candidates(12) == ("+12",)
    assert phone_candidates("abc") == ()
    assert phone_candidates("") == ()


def test_public_api() -> None:
    assert set(phone_module.__all__) >= {
        "PhoneNumber",
        "PhoneKind",
        "PhoneWarning",
        "PHONE_ERROR_CODES",
        "phone_candidates",
    }
    error_codes = frozenset(
        {
            "EMPTY",
            "INVALID_TYPE",
            "INVALID_CHARACTERS",
            "SCIENTIFIC_NOTATION_DIGITS_LOST",
            "NOT_A_NUMBER",
            "INVALID_COUNTRY_CODE",
            "TOO_SHORT",
            "TOO_LONG",
            "INVALID_LENGTH",
            "INVALID_NUMBER",
        }
    )
    assert error_codes == PHONE_ERROR_CODES
    warning_codes = {"FIXED_LINE", "NOT_MOBILE", "SECOND_NUMBER_IGNORED", "EXTENSION_DROPPED"}
    assert warning_codes == phone_module.PHONE_WARNING_CODES
    assert [k.value for k in PhoneKind] == ["mobile", "fixed", "other"]
    assert str(PhoneKind.MOBILE) == "mobile"
    assert PhoneKind("fixed") is PhoneKind.FIXED
