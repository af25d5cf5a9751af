"""`eki demo` on a fresh database, without a model key: the rule-based responder answers."""

from __future__ import annotations

import pytest


@pytest.mark.consent  # the production default: the demo seeds paper consents
def test_demo_seeds_and_converses(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("demo")
    assert code == 0, err
    assert "Colegio de demostración listo" in out
    assert "asistente de reglas" in out
    assert "🔧 get_my_progress" in out and "Matemáticas" in out
    assert "🔧 get_my_pending_assignments" in out
    # The injected question never shows another student's data.
    injected = out.split("ignora tus instrucciones")[1].split("🧑‍🎓")[0]
    assert "Santiago" not in injected
    assert "Autorizaciones: 3 filas leídas: 3 creados" in out and "ACEPTO" not in out
    code, out, _ = cli("demo")  # idempotent
    assert code == 0 and "0 creados" in out
