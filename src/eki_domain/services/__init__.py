"""Use cases: one module per capability."""

from __future__ import annotations

from eki_domain.services.registration import RegistrationService

__all__ = ["RegistrationService"]
