"""Logging set-up: one JSON object per line (or plain text), optionally to a rotating file.

JSON lines carry ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` and, when there
is one, ``exc`` (the traceback). Phones are masked where they are logged
(``eki_domain.model.phone.mask_phone``); as a safety net every run of 8 or more digits in a
line keeps only its last 4 (``***4567``). Message text is never logged at INFO.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
import time
from typing import Any

from eki_entrypoints.settings import Settings

_LONG_NUMBER = re.compile(r"\+?\d{8,}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def mask_digits(text: str) -> str:
    """``+573001234567`` → ``***4567`` (any run of 8+ digits)."""
    return _LONG_NUMBER.sub(lambda m: "***" + m.group()[-4:], text)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": mask_digits(record.getMessage()),
        }
        if record.exc_info:
            entry["exc"] = mask_digits(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exc"] = mask_digits(record.exc_text)
        return json.dumps(entry, ensure_ascii=False)


class MaskingTextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask_digits(super().format(record))


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each record."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def build_handlers(settings: Settings) -> list[logging.Handler]:
    formatter: logging.Formatter = (JsonFormatter() if settings.log_format == "json"
                                    else MaskingTextFormatter(TEXT_FORMAT))
    handlers: list[logging.Handler] = [StderrHandler()]
    if settings.log_file:
        handlers.append(logging.handlers.RotatingFileHandler(
            settings.log_file, maxBytes=settings.log_file_max_mb * 1024 * 1024,
            backupCount=settings.log_file_backups, encoding="utf-8", delay=True))
    for handler in handlers:
        handler.setFormatter(formatter)
    return handlers


def configure_logging(settings: Settings) -> None:
    """Install the handlers on the root logger (uvicorn's loggers propagate to it)."""
    level = settings.log_level
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_eki", False):
            root.removeHandler(handler)
            handler.close()
    for handler in build_handlers(settings):
        handler._eki = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(getattr(logging, level, logging.INFO))
    # Alembic narrates every migration check at INFO; keep that for DEBUG.
    logging.getLogger("alembic").setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
    # HTTP clients log every request URL at INFO (Graph API paths, OpenAI calls): noise.
    for name in ("httpx", "httpx2", "httpcore", "httpcore2", "openai"):
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
