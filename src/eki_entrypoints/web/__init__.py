"""The Starlette web app (``create_app``)."""

from __future__ import annotations

from eki_entrypoints.web.app import create_app

__all__ = ["create_app"]
