"""Which source revision is running, for `pantau_build_info{revision}`.

A package build writes the commit into `pantau/REVISION` (`make dist`); a
source checkout asks git once at start. Neither: "unknown".
"""

from __future__ import annotations

import subprocess
from pathlib import Path

_HERE = Path(__file__).resolve().parent
REVISION_FILE = _HERE / "REVISION"


def source_revision() -> str:
    try:
        written = REVISION_FILE.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        written = ""
    return written or _git_revision() or "unknown"


def _git_revision() -> str:
    if not (_HERE.parent / ".git").exists():
        return ""
    try:
        done = subprocess.run(
            ["git", "-C", str(_HERE.parent), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=5, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""
