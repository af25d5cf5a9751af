"""The staff inbox's pure rules (issue #15): the window badge at its edges, quick-reply
expansion, note bounds, failure reasons in Spanish and the nearest-rank percentile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from eki_domain.errors import InvalidInput
from eki_domain.model.inbox import (
    NOTE_MAX_CHARS,
    InboxNote,
    QuickReply,
    expand_shortcuts,
    normalize_shortcut,
    percentile,
    window_badge,
)
from eki_domain.model.pacing import failure_reason
from eki_domain.model.schedule import window_left

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(("wrote_ago", "text", "level"), [
    (timedelta(minutes=1), "quedan 23 h 59 min", "ok"),
    (timedelta(hours=22), "quedan 2 h 00 min", "ok"),
    (timedelta(hours=22, minutes=1), "quedan 1 h 59 min", "low"),
    (timedelta(hours=23, minutes=59), "quedan 1 min", "low"),
    (timedelta(hours=24), "ventana cerrada", "closed"),
    (timedelta(hours=24, minutes=1), "ventana cerrada", "closed"),
])
def test_the_window_badge_at_its_edges(wrote_ago: timedelta, text: str, level: str) -> None:
    assert window_badge(window_left(NOW - wrote_ago, NOW)) == (text, level)


def test_never_wrote_means_closed() -> None:
    assert window_badge(window_left(None, NOW)) == ("ventana cerrada", "closed")


def test_shortcuts_expand_only_as_whole_words() -> None:
    saved = {"horario": "De 7 a 5.", "hola": "¡Hola!"}
    assert expand_shortcuts("/hola ¿cómo vas? /horario", saved) == "¡Hola! ¿cómo vas? De 7 a 5."
    assert expand_shortcuts("ver http://x/horario y /horarios", saved) == \
        "ver http://x/horario y /horarios"
    assert normalize_shortcut(" /Horario ") == "horario"
    for bad in ("", "con espacio", "ñandú", "x" * 31, "/"):
        with pytest.raises(InvalidInput):
            normalize_shortcut(bad)
    with pytest.raises(InvalidInput):
        QuickReply.create("ok", "   ", "a@b.co", NOW)


def test_notes_are_bounded_and_cleaned() -> None:
    note = InboxNote.note(1, "  llamar\x00 a la mamá \n", "a@b.co", NOW)
    assert note.body == "llamar a la mamá" and note.kind.value == "note"
    with pytest.raises(InvalidInput):
        InboxNote.note(1, "x" * (NOTE_MAX_CHARS + 1), "a@b.co", NOW)


def test_failure_reasons_are_spanish() -> None:
    assert failure_reason("131047") == "ventana de 24 horas cerrada"
    assert failure_reason("WINDOW_CLOSED") == "ventana de 24 horas cerrada"
    assert failure_reason("999", "Something new") == "error 999: Something new"
    assert failure_reason(None) == "error desconocido"


def test_nearest_rank_percentiles() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.9) == 5.0
    values = [float(v) for v in range(1, 11)]
    assert (percentile(values, 0.5), percentile(values, 0.9)) == (5.0, 9.0)
    assert percentile([30.0, 10.0], 0.5) == 10.0
