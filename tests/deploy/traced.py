"""Run a deploy/ script under `strace -f -e execve` and keep every program it started.

A secret passed on a command line is readable by every local user (ps,
/proc/PID/cmdline) for as long as the process runs; passed in the
environment, by the same user and root. strace records the argv and the
environment of each execve of the script and of all its descendants, however
short-lived, so `leaks` can say whether a secret reached either.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.tls_broker import SCRIPTS

STRACE = shutil.which("strace")


@dataclass(frozen=True)
class Traced:
    result: subprocess.CompletedProcess[str]
    execs: list[str]  # one strace line per execve: program, argv, environment

    def programs(self) -> set[str]:
        return {line.split('execve("', 1)[1].split('"', 1)[0] for line in self.execs}

    def leaks(self, secret: str) -> list[str]:
        return [line for line in self.execs if secret in line]


def run_traced(name: str, *args: str, workdir: Path) -> Traced:
    if STRACE is None:
        pytest.skip("strace is not installed (apt-get install strace)")
    log = workdir / f"{name}.strace"
    # -v prints environments in full; -s: long enough for any argument we pass.
    result = subprocess.run([STRACE, "-f", "-qq", "-v", "-s", "65536", "-e", "trace=execve",
                             "-o", str(log), str(SCRIPTS / name), *args],
                            capture_output=True, text=True, timeout=60, check=False)
    execs = [line for line in log.read_text().splitlines() if 'execve("' in line]
    assert execs, f"strace recorded no execve for {name}: is ptrace allowed here?"
    return Traced(result, execs)
