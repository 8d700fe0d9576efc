"""Register, swaps and repair outcomes end to end: a real agent, Mosquitto and collector.

One simulated kit (the real AgentService over a simulated USB bus, the
shipped profile with its stand-ins) and the real `pantau-collector run`
(subprocess, `[repairs] min_open_s = 1`). The test plays a technician with the
fingerprint scanner: unplug and plug the same one back (restored), lend the
office a single-finger reader (the station can enroll, the repair stays
open), bring another scanner (replaced), then one without a serial (unknown).
Everything is read back over HTTP, the swap records from the collector's
asset database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agent.sim.fleet import registry_toml
from agent.sim.usb_backend import SimDevice
from collector.store_assets_read import AssetReader
from tests.support.collector_process import CollectorProcess
from tests.support.fleet_harness import FaultStation
from tests.support.mosquitto import MosquittoBroker, wait_for

pytestmark = pytest.mark.broker
SITE, NAME = "medan-baru", "medan-baru-01"
FUTRONIC = SimDevice(0x1491, 0x0088, "Futronic", "FS88", "FUT-1", port_numbers=(9,))


@pytest.fixture
def rig(mosquitto: MosquittoBroker, tmp_path: Path) -> Iterator[tuple[FaultStation,
                                                                     CollectorProcess]]:
    collector = CollectorProcess(mosquitto.url, tmp_path / "collector",
                                 registry_toml([(SITE, NAME)]), client_id="pantau-assets-test")
    collector.config.write_text(collector.config.read_text() + "[repairs]\nmin_open_s = 1\n")
    station = FaultStation(SITE, NAME, mosquitto.url, tmp_path / NAME)
    collector.start()
    station.start()
    try:
        yield station, collector
    finally:
        station.stop()
        collector.kill()


def get(collector: CollectorProcess, path: str) -> Any:
    status, body = collector.http(path)
    assert status == 200, (path, status, body[:300])
    return json.loads(body)


def repairs(collector: CollectorProcess, state: str) -> list[dict[str, Any]]:
    return get(collector, f"/api/v1/repairs?station={NAME}&state={state}")["repairs"]  # type: ignore[no-any-return]


def fingerprint(collector: CollectorProcess) -> dict[str, Any]:
    view = get(collector, f"/api/v1/stations/{NAME}")
    return next((c for c in view["components"] if c["id"] == "fingerprint"), {})  # type: ignore[no-any-return]


def swap_in(station: FaultStation, collector: CollectorProcess, device: SimDevice | None,
            status: str) -> None:
    """Take whatever serves the fingerprint role out, put `device` in, wait for `status`."""
    station.bus.unplug(lambda d: d.vid in (0x080B, 0x1491))
    if device is not None:
        station.bus.plug(device)
    wait_for(lambda: fingerprint(collector).get("status") == status, 15,
             what=f"fingerprint {status}")


def open_repair(collector: CollectorProcess) -> dict[str, Any]:
    """The one open repair record, once it is listed (open `min_open_s`)."""
    listed = wait_for(lambda: repairs(collector, "open"), 15, what="an open repair listed")
    assert len(listed) == 1, listed
    return listed[0]  # type: ignore[no-any-return]


def closed_by(collector: CollectorProcess, repair_id: str) -> dict[str, Any]:
    return wait_for(lambda: [r for r in repairs(collector, "closed") if r["id"] == repair_id],  # type: ignore[no-any-return]
                    15, what=f"repair {repair_id} closed")[0]


def test_register_swaps_and_repair_outcomes(
        rig: tuple[FaultStation, CollectorProcess]) -> None:
    station, collector = rig
    scanner = next(d for d in station.bus.devices() if d.vid == 0x080B)
    wait_for(lambda: fingerprint(collector).get("status") == "ok", 15, what="the kit reports")

    swap_in(station, collector, None, "missing")  # 1. the same scanner back: restored
    first = open_repair(collector)
    assert (first["status"], first["model"]["vid"], first["model"]["pid"]) == (
        "missing", "080b", "0002")
    assert first["model"]["name"] == "Cross Match Technologies Fingerprint Scanner"
    swap_in(station, collector, scanner, "ok")
    assert closed_by(collector, first["id"])["outcome"] == "restored"

    swap_in(station, collector, None, "missing")  # 2. a stand-in, then another scanner
    second = open_repair(collector)
    swap_in(station, collector, FUTRONIC, "ok")
    assert get(collector, f"/api/v1/stations/{NAME}")["ready"] is True  # it can enroll
    wait_for(lambda: repairs(collector, "open")[0]["status"] == "standin", 10,
             what="the open repair on a stand-in")
    part = get(collector, f"/api/v1/parts?site={SITE}")["parts"]
    assert [(p["role"], p["status"], p["model_to_order"]) for p in part] == [
        ("fingerprint", "standin", "080b:0002 Cross Match Technologies Fingerprint Scanner")]
    assert repairs(collector, "open")[0]["id"] == second["id"]  # still the same, still open
    # The new scanner goes in where the stand-in was, in one go (same port, same address).
    station.bus.replace(lambda d: d.vid == 0x1491, vid=0x080B, pid=0x0002, serial="FP-NEW",
                        manufacturer=scanner.manufacturer, product=scanner.product)
    assert closed_by(collector, second["id"])["outcome"] == "replaced"

    swap_in(station, collector, None, "missing")  # 3. a scanner without a serial: unknown
    third = open_repair(collector)
    swap_in(station, collector, replace(scanner, serial=""), "ok")
    assert closed_by(collector, third["id"])["outcome"] == "unknown"

    assets = get(collector, f"/api/v1/assets?station={NAME}&role=fingerprint")["assets"]
    assert [(a["serial"], a["standin"], a["present"]) for a in assets] == [
        (scanner.serial, False, False), ("FUT-1", True, False), ("FP-NEW", False, False),
        ("", False, True)]
    history = get(collector, f"/api/v1/assets/history?serial={scanner.serial}")["history"]
    assert len(history) == 2 and all(h["to"] is not None for h in history)
    changes = AssetReader(collector.data_dir / "assets.sqlite3").changes(NAME)
    kinds = [(c.kind, c.device.serial if c.device else None) for c in reversed(changes)
             if c.role == "fingerprint"]
    # The same scanner back is no change; the stand-in swapped for the new scanner in one
    # go is a swap without a removal (the role never went missing).
    assert kinds == [("install", scanner.serial), ("removal", None), ("removal", None),
                     ("swap", "FUT-1"), ("swap", "FP-NEW"), ("removal", None), ("swap", "")]
