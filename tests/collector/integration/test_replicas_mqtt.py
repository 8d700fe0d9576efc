"""Two collector replicas on one real Mosquitto: people's repair writes reach both.

Two real `pantau-collector run` processes (replica a and b, each its own client
id) and one simulated kit (the real agent). The fingerprint scanner is
unplugged, so both replicas open the same repair (ids derived from station,
role and opened_at). A writer sets a ticket on replica a: b applies it from the
MQTT repair topic. Then b is stopped, a note is written on a, and b, started
again, applies it from its persistent session's queue.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.sim.fleet import registry_toml
from collector.http_passwords import hash_password
from tests.support.collector_process import CollectorProcess
from tests.support.fleet_harness import FaultStation
from tests.support.mosquitto import MosquittoBroker, wait_for

pytestmark = pytest.mark.broker
SITE, NAME = "medan-baru", "medan-baru-01"
USER, PASSWORD = "budi", "budi-pw"
EXEMPT = '["/healthz", "/readyz", "/metrics", "/api/v1/repairs"]'


def replica(mosquitto: MosquittoBroker, workdir: Path, name: str) -> CollectorProcess:
    collector = CollectorProcess(mosquitto.url, workdir / name, registry_toml([(SITE, NAME)]),
                                 client_id=f"pantau-collector-{name}")
    users = workdir / "users"
    if not users.exists():
        users.write_text(f"{USER}:{hash_password(PASSWORD, n=16)}\n")
    collector.config.write_text(
        f'replica = "{name}"\n' + collector.config.read_text()
        + f'[http]\nbasic_auth_users_file = "{users}"\nauth_exempt = {EXEMPT}\n'
        + f'[repairs]\nmin_open_s = 1\nwriters = ["{USER}"]\n')
    return collector


@pytest.fixture
def rig(mosquitto: MosquittoBroker, tmp_path: Path
        ) -> Iterator[tuple[FaultStation, CollectorProcess, CollectorProcess]]:
    a, b = replica(mosquitto, tmp_path, "a"), replica(mosquitto, tmp_path, "b")
    station = FaultStation(SITE, NAME, mosquitto.url, tmp_path / NAME)
    a.start()
    b.start()
    station.start()
    try:
        yield station, a, b
    finally:
        station.stop()
        a.kill()
        b.kill()


def open_repairs(collector: CollectorProcess) -> list[dict[str, Any]]:
    status, body = collector.http(f"/api/v1/repairs?station={NAME}&state=open")
    return list(json.loads(body)["repairs"]) if status == 200 else []


def write(collector: CollectorProcess, repair_id: str, fields: dict[str, str]) -> None:
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    request = urllib.request.Request(
        f"{collector.base}/api/v1/repairs/{repair_id}", data=json.dumps(fields).encode(),
        method="POST", headers={"Content-Type": "application/json",
                                "Authorization": f"Basic {token}"})
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert resp.status == 200


def field_on(collector: CollectorProcess, name: str) -> str:
    listed = open_repairs(collector)
    return str(listed[0][name]) if listed else ""


def writes(collector: CollectorProcess, result: str) -> int:
    line = f'pantau_collector_repair_writes_total{{result="{result}"}} '
    found = [ln for ln in collector.metrics().splitlines() if ln.startswith(line)]
    return int(float(found[0].split()[-1])) if found else -1


def test_a_write_on_one_replica_reaches_the_other_live_and_after_a_restart(
    rig: tuple[FaultStation, CollectorProcess, CollectorProcess],
) -> None:
    station, a, b = rig
    station.bus.unplug(lambda d: d.vid == 0x080B)  # the Cross Match fingerprint scanner
    listed = wait_for(lambda: open_repairs(a) and open_repairs(b), 20,
                      what="the repair listed on both replicas")
    ids = {r["id"] for r in open_repairs(a)} | {r["id"] for r in listed}
    assert len(ids) == 1, ids  # the same id on both
    repair_id = ids.pop()

    write(a, repair_id, {"ticket": "INC-77"})
    wait_for(lambda: field_on(b, "ticket") == "INC-77", 10, what="ticket applied on b")
    assert (writes(a, "sent"), writes(b, "applied"), writes(a, "applied")) == (1, 1, 0)

    b.stop()  # its broker session stays: the next write waits in b's queue
    write(a, repair_id, {"note": "kurir JNE"})
    b.start()
    wait_for(lambda: field_on(b, "note") == "kurir JNE", 15, what="note applied on b")
    assert field_on(b, "ticket") == "INC-77" and writes(b, "invalid") == 0
