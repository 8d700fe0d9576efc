"""The production broker config (TLS, accounts, ACL) with the real collector and agent.

Builds on tests/deploy/tls_broker.py (the broker, pantau-enroll-station, paho test
clients); adds the collector and an agent as subprocesses logging to files,
with password files holding a unique marker so a test can grep for leaks.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from agent.sim.kit import station_sysfs, station_toml
from tests.deploy.binaries import REPO
from tests.deploy.tls_broker import Client, TlsBroker, add_account, run_script
from tests.support.mosquitto import free_port, wait_for

SITE = "medan-baru"
A, B, AGENT = "medan-baru-01", "medan-baru-02", "medan-baru-03"
COLLECTOR_USER = "pantau-collector"


def topic(station: str, kind: str, site: str = SITE) -> str:
    return f"pantau/v1/{site}/{station}/{kind}"


def http(url: str, method: str = "GET") -> tuple[int, bytes]:
    req = urllib.request.Request(url, method=method, data=b"{}" if method != "GET" else None)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""  # not listening (yet)


def metric(text: str, name: str, labels: str) -> float:
    """One sample's value from /metrics text; 0 when the series is absent."""
    found = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


@dataclass
class Stack:
    broker: TlsBroker
    marker: str = field(default_factory=lambda: f"MARKER{uuid.uuid4().hex}")
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    http_port: int = field(default_factory=free_port)

    @property
    def workdir(self) -> Path:
        return self.broker.workdir

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def enroll(self, station: str) -> str:
        out = self.workdir / station
        result = run_script("pantau-enroll-station", "--site", SITE, "--station", station, "--out",
                            str(out), "--passwd-file", str(self.broker.passwd))
        assert result.returncode == 0, result.stderr
        return (out / "broker.password").read_text()

    def secret_file(self, name: str, who: str) -> Path:
        """A password file holding the marker; the account `who` gets that password."""
        path = self.workdir / name
        path.write_text(f"{self.marker}-{who}\n")
        add_account(self.broker.passwd, who, f"{self.marker}-{who}")
        return path

    def start_collector(self) -> None:
        fleet = self.workdir / "fleet.toml"
        fleet.write_text(f'[sites.{SITE}]\nname = "Medan Baru"\nregion = "Kota Medan"\n' + "".join(
            f'[stations.{s}]\nsite = "{SITE}"\nlifecycle = "active"\n' for s in (A, B, AGENT)))
        config = self.workdir / "collector.toml"
        config.write_text(
            f'registry = "{fleet}"\n[http]\nlisten = "127.0.0.1:{self.http_port}"\n'
            f'[state]\ndata_dir = "{self.workdir / "data"}"\n'
            f'[broker]\nurl = "mqtts://127.0.0.1:{self.broker.port}"\n'
            f'username = "{COLLECTOR_USER}"\nca_file = "{self.broker.ca}"\n'
            f'password_file = "{self.secret_file("collector.password", COLLECTOR_USER)}"\n')
        self._spawn("collector.log", "collector.cli", "run", "--config", str(config),
                    "--log-level", "DEBUG")
        wait_for(lambda: self._alive() and http(self.base + "/readyz")[0] == 200, 30,
                 what="collector ready over TLS")

    def start_agent(self, station: str) -> None:
        workdir = self.workdir / f"agent-{station}"
        workdir.mkdir()
        url = f"mqtts://127.0.0.1:{self.broker.port}"
        broker = (f'[broker]\nurl = "{url}"\nusername = "{station}"\nca_file = "{self.broker.ca}"\n'
                  f'password_file = "{self.secret_file(f"{station}.password", station)}"\n')
        text = station_toml(station, SITE, url, workdir, poll_s=0.2, heartbeat_s=1.0)
        (workdir / "agent.toml").write_text(text.replace(f'[broker]\nurl = "{url}"\n', broker))
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self._spawn(f"agent-{station}.log", "tests.support.kit_agent",
                    "--sysfs", str(station_sysfs(workdir / "sys")), "--log-level", "DEBUG",
                    "run", "--config", str(workdir / "agent.toml"), env=env)

    def _spawn(self, log: str, module: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.broker.reload()  # Mosquitto rereads the password file on SIGHUP
        out = open(self.workdir / log, "ab")  # noqa: SIM115 - owned by the process
        self.procs.append(subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO,
                                           stdout=out, stderr=out, env=env))

    def _alive(self) -> bool:
        for proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        return True

    def station_view(self, station: str) -> dict[str, object]:
        import json

        status, body = http(f"{self.base}/api/v1/stations/{station}")
        assert status == 200, body
        return dict(json.loads(body))

    def client(self, station: str, password: str, client_id: str = "") -> Client:
        client = Client(self.broker, station, password, client_id)
        assert client.accepted, client.connack
        return client

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(15)
        self.broker.stop()
