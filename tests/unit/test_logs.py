"""JSON log lines, the digit-masking safety net and the rotating log file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from eki_entrypoints.logs import JsonFormatter, configure_logging, mask_digits
from eki_entrypoints.settings import Settings


def record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("bad phone +573001234567")
        except ValueError:
            import sys

            exc_info = sys.exc_info()
    return logging.LogRecord("eki.test", logging.INFO, __file__, 1, message, args, exc_info)


def test_one_json_object_per_line_with_masked_numbers() -> None:
    line = JsonFormatter().format(record("turn %s: %d message(s)\nnext", "573001234567", 2))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "INFO" and entry["logger"] == "eki.test"
    assert entry["message"] == "turn ***4567: 2 message(s)\nnext"
    assert entry["ts"].endswith("Z") and "T" in entry["ts"]
    assert "573001234567" not in line


def test_tracebacks_are_one_field_and_masked() -> None:
    entry = json.loads(JsonFormatter().format(record("failed", exc=True)))
    assert "ValueError: bad phone ***4567" in entry["exc"]


def test_short_numbers_are_kept() -> None:
    assert mask_digits("event 1234567 took 250ms") == "event 1234567 took 250ms"
    assert mask_digits("+573001234567 and 3001234567") == "***4567 and ***4567"


def test_rotating_log_file(tmp_path: Path) -> None:
    path = tmp_path / "eki.log"
    settings = Settings(log_file=str(path), log_file_max_mb=1, log_file_backups=2)
    configure_logging(settings)
    log = logging.getLogger("eki.test.file")
    for n in range(3000):
        log.info("line %d %s", n, "x" * 400)
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert path.exists() and (tmp_path / "eki.log.1").exists()
    assert not (tmp_path / "eki.log.3").exists()  # two backups kept
    last = path.read_text(encoding="utf-8").splitlines()[-1]
    assert json.loads(last)["message"].startswith("line 2999 ")
    assert logging.getLogger("httpx2").level == logging.WARNING


def test_text_format(tmp_path: Path) -> None:
    path = tmp_path / "eki.log"
    configure_logging(Settings(log_format="text", log_file=str(path)))
    logging.getLogger("eki.test.text").warning("sent to %s", "+573001234567")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text(encoding="utf-8")
    assert "WARNING eki.test.text sent to ***4567" in text
