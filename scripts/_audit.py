"""The pip-audit step of scripts/test: known vulnerabilities in the installed dependencies.

pip-audit runs from its own virtualenv (``.venv-audit/``, so its dependencies never mix with
EKI's) against a frozen list of ``.venv``'s packages, asking PyPI's JSON API for each pinned
version (``--vulnerability-service pypi``: PyPI is the one advisory source every machine of
this project reaches). A vulnerability fails the build. When pip-audit cannot be installed or
the vulnerability database cannot be reached, the step says so plainly and the build goes
on: an unreachable service is not a finding. ``EKI_SKIP_AUDIT=1`` skips the step.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

from _devenv import ROOT, say

AUDIT_VENV = ROOT / ".venv-audit"
AUDIT_PY = AUDIT_VENV / "bin" / "python"
#: pip-audit's exit code when it found vulnerabilities (and wrote its report).
FOUND = 1


def _ensure_pip_audit() -> bool:
    if (AUDIT_VENV / "bin" / "pip-audit").exists():
        return True
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(AUDIT_VENV)
        subprocess.run([str(AUDIT_PY), "-m", "pip", "install", "--quiet", "pip-audit>=2.7"],
                       check=True, cwd=ROOT, timeout=600)
    except (OSError, subprocess.SubprocessError) as exc:
        say(f"pip-audit: NOT RUN — it could not be installed ({exc}); the build goes on")
        return False
    return True


def audit(project_python: Path) -> int:
    """0 when clean or when the audit could not run (said so), else pip-audit's exit code."""
    if os.environ.get("EKI_SKIP_AUDIT") == "1":
        say("pip-audit: skipped (EKI_SKIP_AUDIT=1)")
        return 0
    if not _ensure_pip_audit():
        return 0
    frozen = subprocess.run([str(project_python), "-m", "pip", "freeze", "--exclude-editable"],
                            capture_output=True, text=True, check=True, cwd=ROOT).stdout
    pinned = "\n".join(line for line in frozen.splitlines() if "==" in line) + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text(pinned)
        report = Path(tmp) / "report.json"
        done = subprocess.run(
            [str(AUDIT_VENV / "bin" / "pip-audit"), "--requirement", str(requirements),
             "--no-deps", "--disable-pip", "--vulnerability-service", "pypi", "--progress-spinner",
             "off", "--format", "json", "--output", str(report)],
            capture_output=True, text=True, check=False, cwd=ROOT, timeout=900)
        if done.returncode not in (0, FOUND) or not report.exists():
            reason = (done.stderr.strip().splitlines() or ["no report written"])[-1]
            say("pip-audit: NOT RUN — the vulnerability database (PyPI's JSON API) could not "
                f"be reached: {reason[:300]}; the build goes on")
            return 0
        data = json.loads(report.read_text() or "{}")
    found = [(d["name"], d["version"], v["id"]) for d in data.get("dependencies", [])
             for v in d.get("vulns", [])]
    for name, version, vuln in found:
        print(f"  {name} {version}: {vuln}", file=sys.stderr)
    if found:
        say(f"pip-audit: {len(found)} known vulnerabilities (upgrade those packages)")
        return FOUND
    say(f"pip-audit: no known vulnerabilities in {len(data.get('dependencies', []))} packages")
    return 0
