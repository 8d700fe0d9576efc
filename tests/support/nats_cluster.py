"""A real N-node NATS cluster (Debian's nats-server) on the shipped deploy/nats configs.

Each node runs a test copy of deploy/nats/nats-server.conf and pantau.conf in
its own directory: only ports, paths, the node's name and its routes are
rewritten (`rewrite` fails when the shipped text changed under us). The CA
and the node certificate come from deploy/scripts/pantau-ca; every node reads
the one users.conf of the cluster (a symlink), as the enroll tooling keeps
it. `kill` is kill -9; `start` brings a node back on the same ports and store.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.deploy.tls_broker import rewrite, run_script
from tests.support.mosquitto import wait_for

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
CONF = Path(__file__).resolve().parents[2] / "deploy" / "nats"


def fixed_port() -> int:
    """A free port below Linux's ephemeral range (32768-60999).

    A node comes back on the same ports after kill -9. Meanwhile its peers keep
    dialling its route port; with a port from the ephemeral range, one of those
    dials can take it as its own source port (a TCP self-connect) and the node
    cannot listen again.
    """
    while True:
        port = random.randrange(20000, 32000)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


@dataclass
class NatsNode:
    name: str
    workdir: Path
    mqtt_port: int = field(default_factory=fixed_port)
    client_port: int = field(default_factory=fixed_port)
    http_port: int = field(default_factory=fixed_port)
    route_port: int = field(default_factory=fixed_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        """The MQTT port: what `tests.deploy.tls_broker.Client` connects to."""
        return self.mqtt_port

    @property
    def ca(self) -> Path:
        return self.workdir.parent / "ca.crt"

    def write_config(self, peers: list[NatsNode]) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        routes = "\n".join(f"    nats-route://127.0.0.1:{p.route_port}" for p in peers)
        node = rewrite((CONF / "nats-server.conf").read_text(), {
            "server_name: nats-1": f"server_name: {self.name}",
            "listen: 0.0.0.0:6222": f"listen: 127.0.0.1:{self.route_port}",
            "    nats-route://nats-2.pantau.example:6222\n"
            "    nats-route://nats-3.pantau.example:6222": routes,
            "/etc/nats/pantau/": f"{self.workdir.parent}/",
            'include "nats/pantau/pantau.conf"': 'include "pantau.conf"',
        })
        common = rewrite((CONF / "pantau.conf").read_text(), {
            "listen: 127.0.0.1:4222": f"listen: 127.0.0.1:{self.client_port}",
            "http: 127.0.0.1:8222": f"http: 127.0.0.1:{self.http_port}",
            "listen: 0.0.0.0:8883": f"listen: 127.0.0.1:{self.mqtt_port}",
            "/etc/nats/pantau/": f"{self.workdir.parent}/",
            "/var/lib/nats/pantau": f"{self.workdir}/store",
        })
        (self.workdir / "nats-server.conf").write_text(node)
        (self.workdir / "pantau.conf").write_text(common)
        link = self.workdir / "users.conf"
        if not link.exists():
            link.symlink_to(self.workdir.parent / "users.conf")

    def spawn(self) -> None:
        log = open(self.workdir / "nats.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [NATS_SERVER, "-c", str(self.workdir / "nats-server.conf")], stdout=log, stderr=log)

    def start(self) -> NatsNode:
        """Start (or restart after `kill`) this node; it is healthy once it rejoined."""
        self.spawn()
        wait_for(self.healthy, 60, what=f"{self.name} healthy")
        return self

    def healthy(self) -> bool:
        """/healthz answers ok once the node serves and is current with the meta leader.

        Only the server (js-server-only): after a kill -9 nats-server 2.9.10 can
        report a replica of some MQTT consumer "not current" for minutes while
        the node already serves every MQTT client (tests/deploy/test_nats_failover.py).
        """
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
        try:
            url = f"http://127.0.0.1:{self.http_port}/healthz?js-server-only=true"
            with urllib.request.urlopen(url, timeout=1) as resp:
                return bool(json.loads(resp.read()).get("status") == "ok")
        except OSError:
            return False

    def accepts_mqtt(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.mqtt_port), timeout=0.2):
                return True
        except OSError:
            return False

    def streams(self) -> dict[str, dict[str, object]]:
        """The account's JetStream streams as this node reports them (/jsz), by name."""
        url = f"http://127.0.0.1:{self.http_port}/jsz?accounts=true&streams=true"
        with urllib.request.urlopen(url, timeout=5) as resp:
            jsz = json.loads(resp.read())
        return {s["name"]: s for a in jsz.get("account_details", [])
                for s in a.get("stream_detail", [])}

    def log_tail(self) -> str:
        return (self.workdir / "nats.log").read_text(errors="replace")[-3000:]

    def reload(self) -> None:
        """SIGHUP: nats-server rereads its config, users.conf included."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGHUP)

    def kill(self) -> None:
        """kill -9: no clean shutdown, no Will, no flush."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
        self.proc = None

    @property
    def pid_file(self) -> Path:
        """A pid file for the tooling's --reload-pid-file (nats-server writes none here)."""
        path = self.workdir / "nats.pid"
        assert self.proc is not None
        path.write_text(f"{self.proc.pid}\n")
        return path


@dataclass
class NatsCluster:
    """`size` nodes with TLS, JetStream and MQTT as deploy/nats ships them."""

    workdir: Path
    size: int = 3
    nodes: list[NatsNode] = field(default_factory=list)

    @property
    def ca(self) -> Path:
        return self.workdir / "ca.crt"

    @property
    def users(self) -> Path:
        return self.workdir / "users.conf"

    def prepare(self) -> NatsCluster:
        """CA, node certificate, empty users.conf and each node's config."""
        for args in (("init", str(self.workdir)),
                     ("server", str(self.workdir), "node", "127.0.0.1")):
            result = run_script("pantau-ca", *args)
            assert result.returncode == 0, result.stderr
        self.users.write_text((CONF / "users.conf").read_text())
        self.nodes = [NatsNode(f"nats-{i + 1}", self.workdir / f"nats-{i + 1}")
                      for i in range(self.size)]
        for node in self.nodes:
            node.write_config([p for p in self.nodes if p is not node])
        return self

    def start(self) -> NatsCluster:
        """Start every node at once (a lone node cannot be healthy), then wait for all."""
        for node in self.nodes:
            node.spawn()
        for node in self.nodes:
            wait_for(node.healthy, 60, what=f"{node.name} healthy")
        return self

    def reload(self) -> None:
        for node in self.nodes:
            if node.proc is not None:
                node.reload()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def stream_leader(self, stream: str) -> NatsNode:
        """The node leading `stream` (e.g. $MQTT_msgs) once a live node names one."""
        live = next(n for n in self.nodes if n.proc is not None)

        def leader() -> NatsNode | None:
            info = live.streams().get(stream, {}).get("cluster")
            name = info.get("leader") if isinstance(info, dict) else None
            return next((n for n in self.nodes if n.name == name), None)
        found: NatsNode = wait_for(leader, 60, what=f"a leader of {stream}")
        return found

    @property
    def mqtt_urls(self) -> list[str]:
        return [f"mqtts://127.0.0.1:{n.mqtt_port}" for n in self.nodes]
