"""A bare N-node NATS cluster (JetStream + MQTT, no TLS, no accounts) on free loopback ports.

For failover measurements with many anonymous stations, where enrolling an
account per station would be the test's bottleneck. The cluster as shipped
(TLS, per-station permissions, deploy/nats) is started by
tests/support/nats_cluster.py. nats-server's MQTT listener needs JetStream
and a server_name; with 3 nodes its streams keep a quorum when one node dies.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.mosquitto import free_port, wait_for

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


@dataclass
class PlainNatsNode:
    name: str
    workdir: Path
    mqtt_port: int = field(default_factory=free_port)
    client_port: int = field(default_factory=free_port)
    route_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)  # monitoring (/jsz)
    mqtt_options: str = ""  # more lines for the mqtt block, e.g. "consumer_replicas: 1"
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.mqtt_port}"

    def write_config(self, peers: list[PlainNatsNode]) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        routes = ", ".join(f"nats-route://127.0.0.1:{p.route_port}" for p in peers)
        (self.workdir / "nats.conf").write_text(
            f"server_name: {self.name}\nlisten: 127.0.0.1:{self.client_port}\n"
            f"http: 127.0.0.1:{self.http_port}\n"
            f'jetstream {{ store_dir: "{self.workdir}/store" }}\n'
            f"cluster {{ name: pantau, listen: 127.0.0.1:{self.route_port}, "
            f"routes: [{routes}] }}\n"
            # stream_replicas 3 as deploy/nats ships it; consumers follow it unless set.
            f"mqtt {{\n  listen: 127.0.0.1:{self.mqtt_port}\n  stream_replicas: 3\n"
            f"  {self.mqtt_options}\n}}\n")

    def spawn(self) -> None:
        log = open(self.workdir / "nats.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen([NATS_SERVER, "-c", str(self.workdir / "nats.conf")],
                                     stdout=log, stderr=log)

    def accepts_mqtt(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", self.mqtt_port), timeout=0.2):
                return True
        except OSError:
            return False

    def serves_mqtt(self) -> bool:
        """An MQTT CONNECT is accepted: JetStream is up, which the listener alone does not say."""
        if not self.accepts_mqtt():
            return False
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex}")
        try:
            client.connect("127.0.0.1", self.mqtt_port, 5)
            client.loop_start()
            wait_for(lambda: client.is_connected() or client.socket() is None, 5,
                     what=f"{self.name} CONNACK")
            return client.is_connected()
        except (OSError, AssertionError):
            return False
        finally:
            client.disconnect()
            client.loop_stop()

    def consumers(self) -> int:
        """JetStream consumers on the MQTT message stream: one per QoS 1 subscription."""
        url = f"http://127.0.0.1:{self.http_port}/jsz?accounts=true&streams=true"
        with urllib.request.urlopen(url, timeout=5) as resp:
            jsz = json.loads(resp.read())
        return sum(int(s["state"]["consumer_count"]) for a in jsz.get("account_details", [])
                   for s in a.get("stream_detail", []) if s["name"] == "$MQTT_msgs")

    def log_tail(self) -> str:
        return (self.workdir / "nats.log").read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """kill -9: the node publishes no Will of the clients connected to it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


@dataclass
class PlainNatsCluster:
    workdir: Path
    size: int = 3
    mqtt_options: str = ""
    nodes: list[PlainNatsNode] = field(default_factory=list)

    def start(self, timeout: float = 60.0) -> PlainNatsCluster:
        self.nodes = [PlainNatsNode(f"nats-{i + 1}", self.workdir / f"nats-{i + 1}",
                                    mqtt_options=self.mqtt_options)
                      for i in range(self.size)]
        for node in self.nodes:
            node.write_config([p for p in self.nodes if p is not node])
        for node in self.nodes:  # all at once: JetStream needs a quorum to serve MQTT
            node.spawn()
        for node in self.nodes:
            wait_for(node.serves_mqtt, timeout, interval=0.5, what=f"{node.name} serving MQTT")
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]
