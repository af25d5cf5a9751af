"""Uploaded files kept on the server between the dry-run preview and the confirmation.

The confirmation re-imports exactly the bytes that were previewed: the form only carries
their sha256, checked again on read; nothing the browser re-posts is trusted. Files live
in a private temporary directory, expire after an hour, and are deleted once imported.
With several servers behind a load balancer they must share this directory (or pin
admin sessions to one server).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
DEFAULT_TTL_SECONDS = 3600


class UploadStaging:
    def __init__(self, directory: Path, *, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> None:
        self.directory = directory
        self.ttl_seconds = ttl_seconds

    @classmethod
    def default(cls) -> UploadStaging:
        return cls(Path(tempfile.gettempdir()) / "eki-admin-uploads")

    def _paths(self, sha256: str) -> tuple[Path, Path]:
        return self.directory / f"{sha256}.upload", self.directory / f"{sha256}.json"

    def put(self, data: bytes, meta: dict[str, Any]) -> str:
        """Keep ``data`` with its ``meta`` (what to do with it); return its sha256."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.cleanup()
        sha256 = hashlib.sha256(data).hexdigest()
        content, info = self._paths(sha256)
        for path, payload in ((content, data),
                              (info, json.dumps({**meta, "staged_at": time.time()}).encode())):
            temporary = path.with_suffix(path.suffix + ".tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
            temporary.replace(path)
        return sha256

    def get(self, sha256: str) -> tuple[bytes, dict[str, Any]] | None:
        """The staged bytes and meta, or None when unknown, expired or altered."""
        if not _SHA256.match(sha256):
            return None
        content, info = self._paths(sha256)
        try:
            meta = json.loads(info.read_text())
            data = content.read_bytes()
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or hashlib.sha256(data).hexdigest() != sha256:
            self.discard(sha256)
            return None
        if time.time() - float(meta.get("staged_at", 0)) > self.ttl_seconds:
            self.discard(sha256)
            return None
        return data, meta

    def discard(self, sha256: str) -> None:
        if _SHA256.match(sha256):
            for path in self._paths(sha256):
                path.unlink(missing_ok=True)

    def cleanup(self) -> int:
        """Delete staged files older than the time to live; return how many."""
        removed = 0
        cutoff = time.time() - self.ttl_seconds
        if not self.directory.is_dir():
            return 0
        for path in self.directory.iterdir():
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
                    removed += 1
            except OSError:
                continue
        return removed
