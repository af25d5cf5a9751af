"""Ports: the Protocols the domain needs from the outside world. The names below are
imported when first used (PEP 562), like :mod:`eki_domain`'s."""

from __future__ import annotations

from typing import TYPE_CHECKING

from eki_domain.lazy import lazy_exports

if TYPE_CHECKING:
    from eki_domain.ports.clock import Clock
    from eki_domain.ports.imports import (
        ImportRecord,
        ImportRepository,
        RosterRepository,
        SpreadsheetReader,
    )
    from eki_domain.ports.repositories import StudentRepository, UnitOfWork, UnitOfWorkFactory
    from eki_domain.ports.telemetry import NO_TELEMETRY, NullTelemetry, Telemetry

_EXPORTS: dict[str, tuple[str, ...]] = {
    "eki_domain.ports.clock": ("Clock",),
    "eki_domain.ports.imports": (
        "ImportRecord", "ImportRepository", "RosterRepository", "SpreadsheetReader"),
    "eki_domain.ports.repositories": ("StudentRepository", "UnitOfWork", "UnitOfWorkFactory"),
    "eki_domain.ports.telemetry": ("NO_TELEMETRY", "NullTelemetry", "Telemetry"),
}


_WHERE, __getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


__all__ = [
    "NO_TELEMETRY",
    "Clock",
    "ImportRecord",
    "ImportRepository",
    "NullTelemetry",
    "RosterRepository",
    "SpreadsheetReader",
    "StudentRepository",
    "Telemetry",
    "UnitOfWork",
    "UnitOfWorkFactory",
]
