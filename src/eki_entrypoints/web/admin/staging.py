"""Uploaded files kept on the server between the dry-run preview and the confirmation.

The confirmation re-imports exactly the bytes that were previewed: the form only carries
their sha256, checked again on read; nothing the browser re-posts is trusted. Files live
in a private directory (mode 0700, owned by this user, not a symlink — checked before every
use, so another local user cannot pre-create or redirect it), are opened without following
symlinks, expire after an hour, and are deleted once imported.
With several servers behind a load balancer they must share this directory (or pin
admin sessions to one server).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _read_nofollow(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        return handle.read()
DEFAULT_TTL_SECONDS = 3600


class UploadStaging:
    def __init__(self, directory: Path, *, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> None:
        self.directory = directory
        self.ttl_seconds = ttl_seconds

    @classmethod
    def default(cls) -> UploadStaging:
        return cls(Path(tempfile.gettempdir()) / f"eki-admin-uploads-{os.getuid()}")

    def _private_directory(self) -> None:
        """Create the directory 0700, or refuse one that is not private to this user."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(self.directory)
        if (not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid()
                or stat.S_IMODE(info.st_mode) & 0o077):
            raise PermissionError(
                f"{self.directory} is not a private directory of this user (a symlink, "
                "another owner or open permissions): remove it and try again")

    def _paths(self, sha256: str) -> tuple[Path, Path]:
        return self.directory / f"{sha256}.upload", self.directory / f"{sha256}.json"

    def put(self, data: bytes, meta: dict[str, Any]) -> str:
        """Keep ``data`` with its ``meta`` (what to do with it); return its sha256."""
        self._private_directory()
        self.cleanup()
        sha256 = hashlib.sha256(data).hexdigest()
        content, info = self._paths(sha256)
        for path, payload in ((content, data),
                              (info, json.dumps({**meta, "staged_at": time.time()}).encode())):
            temporary = path.with_suffix(path.suffix + ".tmp")
            temporary.unlink(missing_ok=True)
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
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
            self._private_directory()
            meta = json.loads(_read_nofollow(info))
            data = _read_nofollow(content)
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
