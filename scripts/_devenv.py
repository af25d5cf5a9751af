"""Shared by scripts/run and scripts/test: a project virtualenv that installs itself.

Only the standard library is used, so a fresh machine needs nothing but Python 3.11+.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("EKI_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def ensure_venv(extras: str = "dev") -> Path:
    """Create .venv and (re)install the project when pyproject.toml changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - the check is for people on old Pythons
        sys.exit(f"EKI needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PY.exists():
        say(f"creating virtualenv {VENV}")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    stamp = VENV / ".eki-installed"
    if not stamp.exists() or stamp.read_text().strip() != digest:
        say(f"installing EKI and its dependencies ([{extras}]) into {VENV}")
        subprocess.run(
            [str(PY), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True
        )
        target = f".[{extras}]" if extras else "."
        subprocess.run(
            [str(PY), "-m", "pip", "install", "--quiet", "-e", target], check=True, cwd=ROOT
        )
        stamp.write_text(digest)
    return BIN


CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium() -> bool:
    """Install Debian's chromium for the browser test when it is missing and we can
    (apt-get present, running as root). Never fatal: without it that test skips (or
    fails under EKI_REQUIRE_BROWSER=1). EKI_SKIP_CHROMIUM_INSTALL=1 turns this off."""
    if CHROMIUM.exists():
        return True
    if os.environ.get("EKI_SKIP_CHROMIUM_INSTALL") == "1":
        return False
    geteuid = getattr(os, "geteuid", None)
    if shutil.which("apt-get") is None or geteuid is None or geteuid() != 0:
        say(f"{CHROMIUM} is missing and cannot be installed here (needs apt-get and root); "
            "the browser test will be skipped")
        return False
    say("installing Debian's chromium for the browser test (apt-get install -y chromium)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

    def quietly(*argv: str) -> int:
        return subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=env, check=False).returncode

    install = ("apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium")
    if quietly(*install) != 0:  # a fresh machine may need its package lists first
        quietly("apt-get", "update", "-qq")
        quietly(*install)
    if CHROMIUM.exists():
        return True
    say("could not install chromium; the browser test will be skipped "
        "(run `apt-get install -y chromium` by hand to see why)")
    return False
