"""Properties of PhoneNumber.parse / from_wa_id, checked with hypothesis."""

from __future__ import annotations

import decimal

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from eki_domain.errors import InvalidPhoneNumber
from eki_domain.model.phone import (
    PHONE_ERROR_CODES,
    PhoneNumber,
    _parse_slow,
    phone_candidates,
)

SETTINGS = settings(max_examples=300, deadline=None)

_REGIONS = ("CO", "MX", "AR", "BR", "US", "ES", "VE", "EC", "PE", "CL", "GB", "DE", "PA", "UY")


def _examples() -> list[str]:
    found: list[str] = []
    for region in _REGIONS:
        for number_type in range(11):
            example = phonenumbers.example_number_for_type(region, number_type)
            if example is not None and phonenumbers.is_valid_number(example):
                found.append(phonenumbers.format_number(example, 0))
    for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is not None and phonenumbers.is_valid_number(example):
            found.append(phonenumbers.format_number(example, 0))
    return sorted(set(found))


EXAMPLES = _examples()

# Colombian mobile operator blocks (3xx) and random 9-digit tails starting with 3.
co_nationals = st.from_regex(r"3(?:0[0-5]|1[0-9]|2[0-3]|5[01]|70)[0-9]{7}", fullmatch=True)
any_3_nationals = st.from_regex(r"3[0-9]{9}", fullmatch=True)
valid_e164 = st.one_of(st.sampled_from(EXAMPLES), co_nationals.map(lambda n: "+57" + n))


def _outcome(call: object, *args: object) -> tuple[object, ...]:
    try:
        number = call(*args)  # type: ignore[operator]
    except InvalidPhoneNumber as exc:
        return ("error", exc.code)
    assert isinstance(number, PhoneNumber)
    return (number.e164, number.region, number.kind, number.warnings)


@SETTINGS
@given(valid_e164, st.sampled_from(_REGIONS))
def test_parse_is_idempotent(e164: str, region: str) -> None:
    number = PhoneNumber.parse(e164, region)
    assert number.e164 == e164
    again = PhoneNumber.parse(number.e164, region)
    assert again == number
    assert again.e164 == number.e164
    assert PhoneNumber.parse(number.e164) == number
    assert PhoneNumber.from_wa_id(number.wa_id) == number or number.country_code in (52, 54, 55)


@SETTINGS
@given(st.sampled_from(EXAMPLES))
def test_parse_agrees_with_phonenumbers_on_valid_numbers(e164: str) -> None:
    expected = phonenumbers.parse(e164)
    number = PhoneNumber.parse(e164)
    assert number.e164 == phonenumbers.format_number(expected, 0)
    assert number.region == phonenumbers.region_code_for_number(expected)


@SETTINGS
@given(valid_e164)
def test_national_format_round_trips(e164: str) -> None:
    expected = PhoneNumber.parse(e164)
    if expected.region == "001":
        return  # non-geographic numbers have no national format
    national = phonenumbers.format_number(
        phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.NATIONAL
    )
    assert PhoneNumber.parse(national, expected.region) == expected


@SETTINGS
@given(any_3_nationals, st.sampled_from(["", "57", "+57", "+57 ", "(+57) "]))
def test_fast_path_equals_slow_path(national: str, prefix: str) -> None:
    text = prefix + national
    assert _outcome(PhoneNumber.parse, text, "CO") == _outcome(_parse_slow, text, "CO")


@SETTINGS
@given(
    any_3_nationals,
    st.sampled_from(["{a} {b} {c}", "({a}) {b}-{c}", "{a}.{b}.{c}", "+57 {a} {b} {c}"]),
)
def test_formatted_fast_path_equals_slow_path(national: str, layout: str) -> None:
    text = layout.format(a=national[:3], b=national[3:6], c=national[6:])
    assert _outcome(PhoneNumber.parse, text, "CO") == _outcome(_parse_slow, text, "CO")


@SETTINGS
@given(any_3_nationals, st.booleans())
def test_numeric_fast_path_equals_slow_path(national: str, with_country_code: bool) -> None:
    digits = ("57" + national) if with_country_code else national
    slow = _outcome(_parse_slow, digits, "CO")
    assert _outcome(PhoneNumber.parse, int(digits), "CO") == slow
    assert _outcome(PhoneNumber.parse, float(digits), "CO") == slow
    assert _outcome(PhoneNumber.parse, decimal.Decimal(digits), "CO") == slow


@SETTINGS
@given(st.from_regex(r"[0-9]{1,13}", fullmatch=True), st.sampled_from(["CO", "MX", "US"]))
def test_digit_strings_match_the_slow_path(digits: str, region: str) -> None:
    # Digits only (no "00" prefix, which parse rewrites on purpose): parse adds nothing.
    if digits.startswith("00"):
        return
    assert _outcome(PhoneNumber.parse, digits, region) == _outcome(_parse_slow, digits, region)


def _parse_or_error(raw: object, region: str) -> PhoneNumber | InvalidPhoneNumber:
    try:
        return PhoneNumber.parse(raw, region)
    except InvalidPhoneNumber as exc:
        return exc


def _only_phone_errors(raw: object, region: str = "CO") -> None:
    number = _parse_or_error(raw, region)
    if isinstance(number, InvalidPhoneNumber):
        assert number.code in PHONE_ERROR_CODES
        assert number.message.startswith("El teléfono")
        assert number.value is raw
        return
    assert number.e164.startswith("+")
    assert number.e164[1:].isdigit()
    assert len(number.e164) <= 16
    assert PhoneNumber.parse(number.e164) == number


@SETTINGS
@given(st.text())
def test_parse_of_any_text_raises_only_invalid_phone_number(raw: str) -> None:
    _only_phone_errors(raw)


_PHONEY = st.text(
    alphabet="0123456789+-.,()/ '\u00a0\u200beExy#o;|\n\uff13",
    max_size=40,
)


@SETTINGS
@given(_PHONEY, st.sampled_from(["CO", "MX", "AR", "BR", "US"]))
def test_parse_of_phone_like_text_raises_only_invalid_phone_number(raw: str, region: str) -> None:
    _only_phone_errors(raw, region)


@SETTINGS
@given(st.one_of(st.integers(), st.floats(), st.decimals(), st.none(), st.booleans()))
def test_parse_of_any_number_raises_only_invalid_phone_number(raw: object) -> None:
    _only_phone_errors(raw)


@SETTINGS
@given(st.one_of(st.text(), st.integers(), _PHONEY))
def test_wa_ids_never_raise_anything_else(wa_id: str | int) -> None:
    number: PhoneNumber | InvalidPhoneNumber
    try:
        number = PhoneNumber.from_wa_id(wa_id)
    except InvalidPhoneNumber as exc:
        number = exc
    if isinstance(number, InvalidPhoneNumber):
        assert number.code in PHONE_ERROR_CODES
    else:
        assert number.match_candidates()[0] == number.e164
    for candidate in phone_candidates(wa_id):
        assert candidate.startswith("+")
        assert candidate[1:].isdigit()


_QUIRK_MOBILES = st.one_of(
    st.from_regex(r"\+52(?:55|33|81)[0-9]{8}", fullmatch=True),
    st.from_regex(r"\+549(?:11|351)[0-9]{7}", fullmatch=True).filter(lambda s: len(s) == 14),
    st.from_regex(r"\+55(?:11|21|31)9[6-9][0-9]{7}", fullmatch=True),
    st.sampled_from(EXAMPLES),
)


@SETTINGS
@given(_QUIRK_MOBILES)
def test_match_candidates_are_symmetric(e164: str) -> None:
    try:
        number = PhoneNumber.parse(e164)
    except InvalidPhoneNumber:
        return
    candidates = number.match_candidates()
    assert candidates[0] == number.e164
    assert len(set(candidates)) == len(candidates)
    for candidate in candidates:
        try:
            PhoneNumber.from_wa_id(candidate[1:])
        except InvalidPhoneNumber:
            # e.g. "+549" + an Argentine premium-rate number: only a raw lookup is possible
            assert phone_candidates(candidate[1:]) == (candidate,)
            continue
        # a sender whose wa_id is any candidate finds the record stored as number.e164
        assert number.e164 in phone_candidates(candidate[1:])
