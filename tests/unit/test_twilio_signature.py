"""X-Twilio-Signature: Twilio's published example, ports, proxies and tampering."""

from __future__ import annotations

import pytest

from eki_adapters.twilio import compute_twilio_signature, verify_twilio_signature

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
          "From": "+14158675309", "To": "+18005551212"}
#: The value in Twilio's own validator tests for this URL, parameters and token.
EXPECTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_twilio_published_example() -> None:
    assert compute_twilio_signature(URL, PARAMS, TOKEN) == EXPECTED
    assert verify_twilio_signature(URL, PARAMS, EXPECTED, TOKEN)


def test_parameter_order_does_not_matter_but_names_are_sorted() -> None:
    shuffled = list(reversed(list(PARAMS.items())))
    assert compute_twilio_signature(URL, shuffled, TOKEN) == EXPECTED


@pytest.mark.parametrize("url", [
    "https://mycompany.com:443/myapp.php?foo=1&bar=2",  # Twilio signed without the port
])
def test_the_default_port_is_tolerated(url: str) -> None:
    assert verify_twilio_signature(url, PARAMS, EXPECTED, TOKEN)


def test_a_url_signed_with_its_port_validates_without_it() -> None:
    with_port = compute_twilio_signature("https://eki.example:443/webhooks/twilio", {}, TOKEN)
    assert verify_twilio_signature("https://eki.example/webhooks/twilio", {}, with_port, TOKEN)


def test_proxy_the_public_url_is_what_counts() -> None:
    public = "https://eki.colegio.edu.co/webhooks/twilio"
    internal = "http://10.0.0.5:8000/webhooks/twilio"
    signature = compute_twilio_signature(public, PARAMS, TOKEN)
    assert verify_twilio_signature(public, PARAMS, signature, TOKEN)
    assert not verify_twilio_signature(internal, PARAMS, signature, TOKEN)


@pytest.mark.parametrize("change", [
    lambda p: {**p, "Digits": "1235"},  # a value changed
    lambda p: {**p, "Extra": "1"},  # a field added
    lambda p: {k: v for k, v in p.items() if k != "To"},  # a field removed
    lambda p: {**p, "Body": ""},  # a blank field counts too
])
def test_tampered_parameters_fail(change) -> None:  # type: ignore[no-untyped-def]
    assert not verify_twilio_signature(URL, change(PARAMS), EXPECTED, TOKEN)


def test_other_url_or_token_fails() -> None:
    assert not verify_twilio_signature(URL.replace("foo=1", "foo=2"), PARAMS, EXPECTED, TOKEN)
    assert not verify_twilio_signature(URL.replace("https", "http"), PARAMS, EXPECTED, TOKEN)
    assert not verify_twilio_signature(URL, PARAMS, EXPECTED, "54321")


@pytest.mark.parametrize("header", [None, "", "   ", "RSOYDt4T1cUTdK1PDd93/VVr8B8",
                                    "ñandú", EXPECTED.lower()])
def test_missing_or_malformed_headers_fail_without_raising(header: str | None) -> None:
    assert not verify_twilio_signature(URL, PARAMS, header, TOKEN)


def test_an_empty_token_never_validates() -> None:
    assert not verify_twilio_signature(URL, PARAMS, compute_twilio_signature(URL, PARAMS, ""),
                                       "")


def test_repeated_names_contribute_every_value_sorted() -> None:
    pairs = [("MediaUrl", "b"), ("MediaUrl", "a")]
    assert compute_twilio_signature("https://x", pairs, TOKEN) == compute_twilio_signature(
        "https://x", [("MediaUrl", "a"), ("MediaUrl", "b")], TOKEN)
    assert compute_twilio_signature("https://x", pairs, TOKEN) != compute_twilio_signature(
        "https://x", [("MediaUrl", "a")], TOKEN)


def test_non_ascii_values_are_signed_as_utf8() -> None:
    params = {"Body": "¿Cómo voy en matemáticas? 🙏", "ProfileName": "Ana María"}
    signature = compute_twilio_signature("https://eki.example/webhooks/twilio", params, TOKEN)
    assert verify_twilio_signature("https://eki.example/webhooks/twilio", params, signature,
                                   TOKEN)
    assert not verify_twilio_signature("https://eki.example/webhooks/twilio",
                                       {**params, "Body": "Como voy"}, signature, TOKEN)
