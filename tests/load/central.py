"""The central side for load runs: a real Mosquitto and the real collector subprocess.

Plain MQTT on loopback (the TLS cost is Mosquitto's, measured elsewhere);
the collector is `python -m collector.cli run` as in production. Stations
are read back through the collector's own API, RSS from /proc.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.mosquitto import MosquittoBroker, free_port, wait_for

REPO = Path(__file__).resolve().parents[2]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Central:
    workdir: Path
    broker: MosquittoBroker = field(init=False)
    collector: subprocess.Popen[bytes] | None = None
    http_port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        # Thousands of clients: no per-client cap, a queue big enough for the collector.
        self.broker = MosquittoBroker(self.workdir / "broker", persistence=True,
                                      extra_config="max_queued_messages 200000\n")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> Central:
        self.broker.start()
        log = open(self.workdir / "collector.log", "ab")  # noqa: SIM115 - owned by the process
        self.collector = subprocess.Popen(
            [sys.executable, "-m", "collector.cli", "run", "--broker", self.broker.url,
             "--listen", f"127.0.0.1:{self.http_port}", "--data-dir", str(self.workdir / "data"),
             "--log-level", "WARNING"], cwd=REPO, stdout=log, stderr=log)
        wait_for(lambda: self._get("/readyz") is not None, 60, what="collector ready")
        return self

    def _get(self, path: str) -> bytes | None:
        if self.collector is not None and self.collector.poll() is not None:
            raise RuntimeError(f"collector exited with {self.collector.returncode}")
        try:
            with urllib.request.urlopen(self.base + path, timeout=30) as resp:
                return bytes(resp.read())
        except OSError:
            return None

    def stations(self) -> list[dict[str, Any]]:
        body = self._get("/api/v1/stations")
        return [] if body is None else list(json.loads(body)["stations"])

    def fresh_online(self, since_wall: float) -> set[str]:
        """Stations online whose last heartbeat was sent after `since_wall`."""
        return {str(s["station"]) for s in self.stations()
                if s["state"] == "online" and float(s["last_heartbeat_ts"] or 0) > since_wall}

    def metrics(self) -> str:
        return (self._get("/metrics") or b"").decode()

    def stop(self) -> None:
        if self.collector is not None and self.collector.poll() is None:
            self.collector.terminate()
            self.collector.wait(30)
        self.broker.stop()
