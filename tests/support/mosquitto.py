"""A real Mosquitto broker per test (or per session) on a free loopback port.

Tests never touch the machine's broker on :1883: they start their own, so they
can stop, kill, freeze and restart it on the same port.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll `predicate` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@dataclass
class MosquittoBroker:
    workdir: Path
    port: int = field(default_factory=free_port)
    persistence: bool = False
    extra_config: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            self.extra_config,
        ]
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def start(self, timeout: float = 10.0) -> MosquittoBroker:
        conf = self._write_config()
        log = open(self.workdir / "mosquitto.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=log, stderr=log)
        wait_for(self._accepts, timeout, what=f"mosquitto on port {self.port}")
        return self

    def _accepts(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(
                f"mosquitto exited with {self.proc.returncode}: "
                + (self.workdir / "mosquitto.log").read_text(errors="replace")[-2000:]
            )
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """Graceful stop (SIGTERM); persistence, if on, is saved."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def freeze(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def restart(self) -> MosquittoBroker:
        self.stop()
        return self.start()


def bridge_to(other: MosquittoBroker, topic: str = "pantau/#") -> str:
    """Config lines that bridge a broker to `other` both ways on `topic`: two plain
    Mosquitto processes that share every message, like two nodes of a cluster."""
    return (f"connection to-{other.port}\naddress 127.0.0.1:{other.port}\n"
            f"topic {topic} both 1\ncleansession true\nrestart_timeout 1\n")
