"""Failover time: stations on the agent's own MQTT code lose their broker node to kill -9.

    .venv/bin/python -m tests.bench.failover [--stations 1000] [--engine nats|mosquitto]
        [--settle 65] [--timeout 120]

Method. Brokers: `nats` (default), a 3-node NATS cluster with JetStream and
MQTT (tests/support/nats_plain.py), every station listing [n1, n2, n3];
`mosquitto`, two independent Mosquitto processes, listing [a, b]. Stations:
processes of tests/support/publisher_fleet.py, 100 each:
agent.mqtt.publisher.Publisher with the shipped [broker] defaults (keepalive
30 s, reconnect 1-60 s), so connect, Will, birth, backoff and the move to the
next node are the agent's code. Once every station is connected the bench
waits --settle seconds (65: a connection counts as stable after
max(reconnect_max_s, keepalive_s) = 60 s, and only a stable one's loss draws
its first retry from the failover window, as in the field), then kill -9 the
first node. A watcher on the last node records when each station's birth of
its new session arrives there: the station is connected and publishing on
another node. Prints p50/p95/max of that time since the kill and a histogram;
exit 1 if a station is not back within --timeout. Asserts nothing else.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from pantau import wire
from pantau.failover import FAILOVER_SPREAD_S
from tests.load.storm import histogram
from tests.support.mosquitto import MosquittoBroker, wait_for
from tests.support.nats_plain import PlainNatsCluster
from tests.support.publisher_fleet import MAX_PER_PROCESS, SITE

REPO = Path(__file__).resolve().parents[2]


class BirthWatcher:
    """Records, per station, when its first birth after the first session arrives."""

    def __init__(self, port: int) -> None:
        self.back: dict[str, float] = {}
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="failover-watcher")
        self.client.on_connect = lambda c, *_: c.subscribe(f"pantau/v1/{SITE}/+/status", 1)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        status = wire.decode("status", bytes(msg.payload))
        if isinstance(status, wire.Status) and status.state == "online" and status.session >= 2:
            station = msg.topic.split("/")[3]
            with self._lock:
                self.back.setdefault(station, time.time())

    def count(self) -> int:
        with self._lock:
            return len(self.back)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def start_fleet(urls: list[str], stations: int, workdir: Path) -> list[subprocess.Popen[str]]:
    procs = []
    for first in range(0, stations, MAX_PER_PROCESS):
        argv = [sys.executable, "-m", "tests.support.publisher_fleet", "--stations",
                str(min(MAX_PER_PROCESS, stations - first)), "--first", str(first),
                "--workdir", str(workdir / f"fleet-{first}")]
        argv += [arg for url in urls for arg in ("--broker", url)]
        procs.append(subprocess.Popen(argv, cwd=REPO, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True))
    for proc in procs:  # each prints one line once all its stations are connected
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if line != "connected":
            raise SystemExit(f"a fleet process did not connect (exit {proc.poll()}): {line!r}")
    return procs


def stop_fleet(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.close()
    for proc in procs:
        proc.wait(120)


def pick(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def failover_times(urls: list[str], kill: Callable[[], None], watch_port: int, stations: int,
                   settle_s: float, timeout_s: float, workdir: Path) -> list[float]:
    """Seconds from `kill()` to each station's new birth on the node at `watch_port`,
    sorted; fewer than `stations` if some were not back within `timeout_s`. For make
    test-ha as well: start the brokers, pass the list and how to kill the first node."""
    watcher = BirthWatcher(watch_port)
    began = time.monotonic()
    procs = start_fleet(urls, stations, workdir)
    try:
        print(f"{stations} stations connected to {urls[0]} in "
              f"{time.monotonic() - began:.1f} s; settling {settle_s:g} s")
        time.sleep(settle_s)  # the condition measured: connections older than stable_after_s
        killed_at = time.time()
        kill()
        try:
            wait_for(lambda: watcher.count() >= stations, timeout_s, interval=0.2,
                     what="every station's birth on another node")
        except AssertionError as exc:
            print(f"NOT BACK: {stations - watcher.count()} stations ({exc})")
        return sorted(t - killed_at for t in watcher.back.values())
    finally:
        watcher.stop()
        stop_fleet(procs)


def measure(urls: list[str], kill: Callable[[], None], watch_port: int,
            args: argparse.Namespace, workdir: Path) -> int:
    times = failover_times(urls, kill, watch_port, args.stations, args.settle, args.timeout,
                           workdir)
    if times:
        print("\n".join(histogram(times, 1.0)))
        print(f"failover ({args.engine}, {len(times)} of {args.stations} stations, first retry "
              f"window {FAILOVER_SPREAD_S:g} s): p50 {pick(times, 0.5):.1f} s, "
              f"p95 {pick(times, 0.95):.1f} s, max {times[-1]:.1f} s")
    return 0 if len(times) == args.stations else 1


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.failover")
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--engine", choices=["nats", "mosquitto"], default="nats")
    parser.add_argument("--settle", type=float, default=65.0)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--workdir", type=Path, help="keep logs here (default: a temp dir)")
    parser.add_argument("--nats-mqtt", default="", metavar="LINES",
                        help='more lines for the nodes\' mqtt block, e.g. "consumer_replicas: 1"')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pantau-failover-") as tmp:
        work = args.workdir or Path(tmp)
        if args.engine == "nats":
            cluster = PlainNatsCluster(work / "nats", mqtt_options=args.nats_mqtt).start()
            try:
                return measure(cluster.urls, cluster.nodes[0].kill,
                               cluster.nodes[-1].mqtt_port, args, work)
            finally:
                cluster.stop()
        nodes = [MosquittoBroker(work / f"mosquitto-{i}").start() for i in range(2)]
        try:
            return measure([n.url for n in nodes], nodes[0].kill, nodes[1].port, args, work)
        finally:
            for node in nodes:
                node.kill()


if __name__ == "__main__":
    sys.exit(main())
