"""Masking for logs lives in the domain (one rule for every log line); re-exported here."""

from __future__ import annotations

from eki_domain.model.phone import mask_phone

__all__ = ["mask_phone"]
