"""The real pantau-agent and pantau-collector on the NATS cluster of deploy/nats.

Both run as enrolled (pantau-enroll-station --nats-users): the agent with the
agent.toml the tool wrote, over a simulated kit (tests/support/kit_agent.py),
connected to one node; the collector with its own account, TLS and a
persistent session, on another node. The shipped permissions must let every
message of ours through: birth and heartbeats in, acks out, the collector's
retained-state sync marker, and the clean-shutdown status.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.binaries import REPO
from tests.deploy.test_nats_acl import COLLECTOR, SITE, enroll
from tests.deploy.tls_broker import run_script
from tests.support.collector_process import CollectorProcess
from tests.support.mosquitto import wait_for
from tests.support.nats_cluster import NatsCluster

pytestmark = pytest.mark.broker

STATION = "medan-baru-07"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    nats = NatsCluster(tmp_path / "nats").prepare()
    enroll(nats, COLLECTOR)
    out = nats.workdir / STATION
    result = run_script("pantau-enroll-station", "--nats-users", str(nats.users), "--site", SITE,
                        "--station", STATION, "--out", str(out), "--ca-file", str(nats.ca),
                        "--install-dir", str(out),
                        "--broker", f"mqtts://127.0.0.1:{nats.nodes[1].port}")
    assert result.returncode == 0, result.stderr
    with open(out / "agent.toml", "a") as toml:  # a queue of its own, not /var/lib
        toml.write(f'\n[queue]\npath = "{out}/queue.sqlite3"\n')
    yield nats.start()
    nats.stop()


def collector_on(cluster: NatsCluster, workdir: Path) -> CollectorProcess:
    collector = CollectorProcess(f"mqtts://127.0.0.1:{cluster.nodes[0].port}", workdir,
                                 client_id=COLLECTOR)
    collector.config.write_text(
        f'[broker]\nurl = "mqtts://127.0.0.1:{cluster.nodes[0].port}"\n'
        f'client_id = "{COLLECTOR}"\nusername = "{COLLECTOR}"\n'
        f'password_file = "{cluster.workdir / COLLECTOR / "broker.password"}"\n'
        f'ca_file = "{cluster.ca}"\n')
    return collector.start(ready_timeout=60)


def test_an_enrolled_agent_reaches_the_collector_through_the_cluster(
        cluster: NatsCluster, tmp_path: Path) -> None:
    collector = collector_on(cluster, tmp_path / "collector")
    station = cluster.workdir / STATION
    log = open(tmp_path / "agent.log", "wb")  # noqa: SIM115 - owned by the process
    agent = subprocess.Popen([sys.executable, "-m", "tests.support.kit_agent", "run",
                              "--config", str(station / "agent.toml")],
                             cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: collector.states().get(STATION) == "online", 60,
                 what=f"{STATION} online at the collector")
        view = collector.stations()[STATION]
        assert view["site"] == SITE
    finally:
        agent.send_signal(signal.SIGTERM)
        code = agent.wait(20)
    assert code == 0, (tmp_path / "agent.log").read_text()[-3000:]
    wait_for(lambda: collector.states().get(STATION) == "offline", 30,
             what="the clean shutdown seen as offline")
    rejected = {line.split()[0]: float(line.split()[1]) for line in collector.metrics().splitlines()
                if line.startswith("pantau_collector_rejected_messages_total{")}
    assert rejected and not any(rejected.values()), rejected
    collector.stop()
    # Every publish and subscription of both programs was within their rights.
    violations = [line for node in cluster.nodes
                  for line in (node.workdir / "nats.log").read_text().splitlines()
                  if "Violation" in line]
    assert violations == []
