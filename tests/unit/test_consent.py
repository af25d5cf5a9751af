"""Consent answers, the policy and the notices (pure domain)."""

from __future__ import annotations

import pytest

from eki_domain.errors import InvalidInput
from eki_domain.model.consent import (
    ConsentMedium,
    ConsentPolicy,
    check_policy_version,
    parse_medium,
)
from eki_domain.services import consent_texts
from eki_domain.services.consent import (
    ConsentAnswer,
    answered_in_english,
    consent_answer,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("ACEPTO", ConsentAnswer.ACCEPT),
    ("acepto", ConsentAnswer.ACCEPT),
    ("Sí, acepto 👍", ConsentAnswer.ACCEPT),
    ("ok acepto gracias", ConsentAnswer.ACCEPT),
    ("I accept", ConsentAnswer.ACCEPT),
    ("hola\nACEPTO", ConsentAnswer.ACCEPT),
    ("NO ACEPTO", ConsentAnswer.REFUSE),
    ("no acepto.", ConsentAnswer.REFUSE),
    ("I don't accept", ConsentAnswer.REFUSE),
    ("decline", ConsentAnswer.REFUSE),
    ("REVOCAR", ConsentAnswer.REVOKE),
    ("revoco mi autorización", ConsentAnswer.REVOKE),
    ("¿cómo voy en matemáticas?", None),
    ("acepto que me fue mal en el examen de matemáticas y quiero saber la nota", None),
    ("no", None),
    ("", None),
])
def test_answers(text: str, expected: ConsentAnswer | None) -> None:
    assert consent_answer(text) is expected


def test_english_answers() -> None:
    assert answered_in_english("I accept") and answered_in_english("DECLINE")
    assert not answered_in_english("acepto") and not answered_in_english("hola")


def test_versions_and_media() -> None:
    assert check_policy_version(2.0) == "2" and check_policy_version(" 2026-01 ") == "2026-01"
    for bad in ("", "a b", "x" * 41, "-1", None):
        with pytest.raises(InvalidInput):
            check_policy_version(bad)
    assert parse_medium("Papel") is ConsentMedium.PAPER
    assert parse_medium(None) is ConsentMedium.IMPORT
    with pytest.raises(InvalidInput):
        parse_medium("fax")


def test_the_notice_names_the_controller_the_law_and_the_link() -> None:
    policy = ConsentPolicy(version="3", controller="Colegio San José",
                           url="https://colegio.test/datos")
    spanish = consent_texts.notice(policy)
    assert "Colegio San José" in spanish and "Ley 1581" in spanish
    assert "https://colegio.test/datos" in spanish and "*ACEPTO*" in spanish
    assert len(spanish) < 700  # one short WhatsApp message
    english = consent_texts.notice(policy, english=True, guardian=True)
    assert "children" in english and "*ACCEPT*" in english
    no_link = consent_texts.notice(ConsentPolicy())
    assert "secretaría" in no_link
    assert "versión 3" in consent_texts.accepted(policy)
