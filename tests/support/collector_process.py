"""`pantau-collector run` as a subprocess the fault suite can SIGTERM, SIGKILL and restart.

The data dir (SQLite history) and the MQTT client id survive restarts, as in
production, so the broker keeps the collector's persistent session. Reads of
what it stored go straight to its SQLite file (read-only), which is the
ground truth the suite compares with what the agents committed.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.mosquitto import free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
KEEPALIVE_S = 5


@dataclass
class StateSampler:
    """Every state each station was shown in, sampled from /api/v1/stations."""

    seen: dict[str, set[str]] = field(default_factory=dict)
    samples: int = 0

    def add(self, states: dict[str, str]) -> None:
        self.samples += 1
        for station, state in states.items():
            self.seen.setdefault(station, set()).add(state)

    def shown(self, *bad: str) -> dict[str, set[str]]:
        return {s: states & set(bad) for s, states in self.seen.items() if states & set(bad)}


class CollectorProcess:
    def __init__(self, broker_url: str, workdir: Path, registry_toml: str | None = None,
                 client_id: str = "pantau-collector-faults", broker_extra: str = "") -> None:
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.run_started = 0.0  # wall clock, the collector's `received` clock, at the last start
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "collector.toml"
        self.registry = workdir / "fleet.toml" if registry_toml else None
        if self.registry is not None and registry_toml is not None:
            self.registry.write_text(registry_toml)
        self.config.write_text(
            f'[broker]\nurl = "{broker_url}"\nclient_id = "{client_id}"\n'
            f"keepalive_s = {KEEPALIVE_S}\nreconnect_min_s = 0.2\nreconnect_max_s = 2\n"
            + broker_extra)

    # --- life cycle -------------------------------------------------------------

    def start(self, ready_timeout: float = 20.0) -> CollectorProcess:
        args = ["run", "--config", str(self.config), "--listen", f"127.0.0.1:{self.port}",
                "--data-dir", str(self.data_dir), "--log-level", "INFO"]
        if self.registry is not None:
            args += ["--registry", str(self.registry)]
        self.starts += 1
        self.run_started = time.time()
        log = open(self.workdir / f"collector-{self.starts}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "collector.cli", *args], cwd=REPO,
                                     stdout=log, stderr=subprocess.STDOUT)
        if ready_timeout:
            self.wait_ready(ready_timeout)
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        wait_for(lambda: self._alive() and self.http("/readyz")[0] == 200, timeout,
                 what="collector /readyz 200")

    def _alive(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"collector exited with {self.proc.returncode}:\n{self.log()}")
        return True

    def stop(self) -> None:
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        self._end(signal.SIGKILL)

    def _end(self, sig: signal.Signals) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(15)
        self.proc = None

    def log(self) -> str:
        path = self.workdir / f"collector-{self.starts}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    # --- HTTP ----------------------------------------------------------------------

    def http(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=3) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    def stations(self) -> dict[str, dict[str, Any]]:
        status, body = self.http("/api/v1/stations")
        if status != 200:
            return {}
        return {s["station"]: s for s in json.loads(body)["stations"]}

    def states(self) -> dict[str, str]:
        return {name: s["state"] for name, s in self.stations().items()}

    def metrics(self) -> str:
        return self.http("/metrics")[1].decode()

    def all_in(self, names: list[str], state: str) -> bool:
        states = self.states()
        return all(states.get(n) == state for n in names)

    # --- the store ----------------------------------------------------------------

    def stored_events(self) -> list[tuple[str, str, int]]:
        """Every stored (station, boot_id, seq) row (unique by the table's constraint)."""
        rows = self.query("SELECT station, boot_id, seq FROM events")
        return [(str(a), str(b), int(c)) for a, b, c in rows]

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query on the collector's history database ([] before it exists)."""
        db = self.data_dir / "collector.sqlite3"
        if not db.exists():
            return []
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            return conn.execute(sql, params).fetchall()

    def sample(self, name: str, labels: str = "") -> float:
        """One sample of this run's /metrics (0 when absent): `labels` as in the text, k="v"."""
        wanted = f"{name}{{{labels}}} " if labels else f"{name} "
        for line in self.metrics().splitlines():
            if line.startswith(wanted):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


def sample_until(sampler: StateSampler, collector: CollectorProcess,
                 done: Callable[[], bool], timeout: float, what: str) -> float:
    """Sample station states until `done()`; returns the seconds it took."""
    began = time.monotonic()

    def step() -> bool:
        sampler.add(collector.states())
        return done()

    wait_for(step, timeout, interval=0.05, what=what)
    return time.monotonic() - began
