"""Message templates: names, languages, numbered parameters, statuses, rendering."""

from __future__ import annotations

import pytest

from eki_domain.model.templates import (
    InvalidTemplate,
    MessageTemplate,
    TemplateCategory,
    TemplateStatus,
    placeholders,
)


def test_placeholders_must_be_numbered_from_one_without_gaps() -> None:
    assert placeholders("Hola") == 0
    assert placeholders("Hola {{1}}, tu nota de {{2}} es {{ 3 }}; {{1}}") == 3
    with pytest.raises(InvalidTemplate, match=r"\{\{1\}\}, \{\{3\}\}"):
        placeholders("{{1}} y {{3}}")
    with pytest.raises(InvalidTemplate):
        placeholders("{{2}}")


def test_create_validates_every_field() -> None:
    template = MessageTemplate.create("recordatorio_pago", "es_CO", "UTILITY", " Hola {{1}} ")
    assert (template.body, template.category, template.status) == (
        "Hola {{1}}", TemplateCategory.UTILITY, TemplateStatus.PENDING)
    for bad in (dict(name="Recordatorio"), dict(name="con espacio"), dict(language="español"),
                dict(category="promo"), dict(body=""), dict(body="x" * 1025),
                dict(content_sid="HX123")):
        fields = {"name": "ok", "language": "es", "category": "utility", "body": "Hola",
                  **bad}
        with pytest.raises(InvalidTemplate):
            MessageTemplate.create(fields.pop("name"), fields.pop("language"),
                                   fields.pop("category"), fields.pop("body"), **fields)


def test_render_checks_the_parameters() -> None:
    template = MessageTemplate.create("nota", "es", "utility", "Hola {{1}}, {{2}}: {{1}}")
    assert template.render(["Ana", "4.5"]) == "Hola Ana, 4.5: Ana"
    with pytest.raises(InvalidTemplate, match="2 parámetro"):
        template.render(["Ana"])
    with pytest.raises(InvalidTemplate):
        template.render(["Ana", "dos\nlíneas"])  # WhatsApp refuses newlines in parameters
    with pytest.raises(InvalidTemplate):
        template.render(["Ana", " "])
    # A parameter that looks like a placeholder is not expanded again.
    assert template.render(["{{2}}", "x"]) == "Hola {{2}}, x: {{2}}"


@pytest.mark.parametrize(("raw", "status"), [
    ("APPROVED", TemplateStatus.APPROVED), ("approved", TemplateStatus.APPROVED),
    ("IN_APPEAL", TemplateStatus.PENDING), ("received", TemplateStatus.PENDING),
    ("REJECTED", TemplateStatus.REJECTED), ("PAUSED", TemplateStatus.PAUSED),
    ("DELETED", TemplateStatus.DISABLED), ("what", TemplateStatus.UNKNOWN),
    (None, TemplateStatus.UNKNOWN)])
def test_provider_statuses(raw: object, status: TemplateStatus) -> None:
    assert TemplateStatus.from_provider(raw) is status
    assert (status is TemplateStatus.APPROVED) == MessageTemplate(
        "a", "es", TemplateCategory.UTILITY, "x", status).sendable
