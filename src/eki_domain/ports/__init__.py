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

__all__ = [
    "Clock",
    "ImportRecord",
    "ImportRepository",
    "RosterRepository",
    "SpreadsheetReader",
    "StudentRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
]
