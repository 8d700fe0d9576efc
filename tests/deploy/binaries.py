"""Start the real Prometheus / Alertmanager binaries on free loopback ports.

Each server gets its own data directory and port so tests never touch a
system instance; `stop()` ends only the process this module started.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.mosquitto import free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"


def run_tool(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run promtool/amtool; the caller asserts on returncode and shows the output."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def http_json(url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


@dataclass
class Server:
    """A real server process; `ready_path` answers 200 once it serves."""

    argv_for: Any  # (port, workdir) -> argv
    workdir: Path
    ready_path: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(self.argv_for(self.port, self.workdir), stdout=log, stderr=log)
        wait_for(self._ready, 20, what=f"{self.argv_for(self.port, self.workdir)[0]} ready")
        return self

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError((self.workdir / "server.log").read_text(errors="replace")[-2000:])
        try:
            with urllib.request.urlopen(self.url + self.ready_path, timeout=0.5) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None
