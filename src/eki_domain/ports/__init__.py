"""Ports: the Protocols the domain needs from the outside world."""

from __future__ import annotations

from eki_domain.ports.clock import Clock
from eki_domain.ports.imports import (
    ImportRecord,
    ImportRepository,
    RosterRepository,
    SpreadsheetReader,
)
from eki_domain.ports.repositories import StudentRepository, UnitOfWork, UnitOfWorkFactory
from eki_domain.ports.telemetry import NO_TELEMETRY, NullTelemetry, Telemetry

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
