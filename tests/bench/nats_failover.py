"""NATS cluster failover benchmark: prints figures, asserts nothing.

    .venv/bin/python -m tests.bench.nats_failover [--rounds 3]

Method. A 3-node cluster from deploy/nats (tests/support/nats_cluster.py) with
a station account made by pantau-enroll-station. Each round: a station
publishes a QoS 1 event through the node leading $MQTT_msgs, that node gets
kill -9, and the station, as soon as the kill returns, tries the other nodes
in turn (1 s for a CONNACK, 5 s for a PUBACK) until one accepts its CONNECT
and acknowledges a QoS 1 publish. Printed
per round: whether the killed node was also the JetStream meta leader,
seconds from the kill to that PUBACK (the broker side of a station's
failover: the agent's own reconnect delay comes on top), and seconds for the
killed node to rejoin (healthy again) once restarted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.deploy.test_nats_acl import COLLECTOR, A, connect, enroll, password, topic
from tests.deploy.tls_broker import Client
from tests.support.mosquitto import wait_for
from tests.support.nats_cluster import NatsCluster, NatsNode


def _published_via(cluster: NatsCluster, nodes: list[NatsNode]) -> bool:
    """One try on each node: CONNACK within 1 s, then a QoS 1 PUBACK within 5 s."""
    for node in nodes:
        try:
            client = Client(node, A, password(cluster, A), A, connack_timeout_s=1.0)
        except AssertionError:
            continue  # no CONNACK yet while the cluster elects leaders
        try:
            if client.accepted:
                sent = client.paho.publish(topic(A, "event"), b"after", qos=1)
                sent.wait_for_publish(5)
                if sent.is_published():
                    return True
        except (RuntimeError, ValueError):
            pass  # no PUBACK in time
        finally:
            client.close()
    return False


def meta_leader(node: NatsNode) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{node.http_port}/jsz", timeout=5) as resp:
        return str(json.loads(resp.read())["meta_cluster"]["leader"])


def one_round(cluster: NatsCluster) -> tuple[float, float, bool]:
    leader = cluster.stream_leader("$MQTT_msgs")
    was_meta = meta_leader(leader) == leader.name
    station = connect(leader, A, cluster)
    station.publish(topic(A, "event"), b"before")
    station.close()
    others = [n for n in cluster.nodes if n is not leader]
    leader.kill()
    killed = time.monotonic()
    wait_for(lambda: _published_via(cluster, others), 120, interval=0.05, what="failover")
    failover = time.monotonic() - killed
    restarted = time.monotonic()
    leader.start()
    return failover, time.monotonic() - restarted, was_meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pantau-nats-bench-") as tmp:
        cluster = NatsCluster(Path(tmp)).prepare()
        for name in (A, COLLECTOR):
            enroll(cluster, name)
        cluster.start()
        try:
            connect(cluster.nodes[0], COLLECTOR, cluster).close()  # makes the MQTT streams
            rounds = [one_round(cluster) for _ in range(args.rounds)]
        finally:
            cluster.stop()
    for n, (failover, rejoin, was_meta) in enumerate(rounds, 1):
        also = " (also the JetStream meta leader)" if was_meta else ""
        print(f"round {n}: kill -9 of the $MQTT_msgs leader{also} -> QoS 1 PUBACK on another "
              f"node {failover:.1f} s; killed node healthy after restart {rejoin:.1f} s")
    print(f"failover median {statistics.median(r[0] for r in rounds):.1f} s, "
          f"max {max(r[0] for r in rounds):.1f} s over {len(rounds)} rounds")


if __name__ == "__main__":
    main()
