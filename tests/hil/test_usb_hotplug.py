"""The real agent in a QEMU guest with emulated USB devices, hot-plugged over QMP.

Boot → all required parts ok at the collector; unplug the card reader →
missing; plug it back → ok; an unknown flash drive → unexpected; a new serial
→ reported; the agent stopped, the reader swapped, the agent started again →
the swap is reported (the agent keeps the last serial in its journal) and the
collector's register holds a swap record; QEMU killed → Will → station lost.
Run with `make test-hil`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from collector.store_assets_read import AssetReader
from tests.hil.vm import GUEST_BROKER, QemuGuest
from tests.support.mosquitto import MosquittoBroker, free_port, wait_for

pytestmark = pytest.mark.hil
HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
STATION = "hil-01"
POLL_S = 1.0
DEBOUNCE_POLLS = 2
AGENT_TOML = f"""
station = "{STATION}"
site = "hil-lab"

[broker]
url = "mqtt://{GUEST_BROKER}"
keepalive_s = 5

[intervals]
heartbeat_s = 5
poll_s = {POLL_S}

[usb]
debounce_polls = {DEBOUNCE_POLLS}
# The scenario re-plugs the reader three times in a minute on purpose; that is
# not the flapping this test is about (tests/agent/usb covers flapping).
flap_changes = 20

[queue]
path = "/run/tmp/queue.sqlite3"

[[components]]
id = "card-reader"
kind = "usb"
description = "smart-card reader (QEMU usb-ccid)"
match = [{{vid = "08e6", pid = "4433"}}]

[[components]]
id = "signature-pad"
kind = "usb"
description = "signature pad (QEMU usb-wacom-tablet)"
match = [{{vid = "056a", pid = "0000"}}]
"""
# In the guest: the agent, stopped and started again when the test says so (a file in the
# shared work dir). The journal stays in the guest's /run/tmp across the restart.
RUN_AGENT = f"""#!/bin/sh
agent() {{
  exec {BIN / "pantau-agent"} run --config /run/work/agent.toml >> /run/work/agent.log 2>&1
}}
agent &
pid=$!
while [ ! -e /run/work/stop-agent ]; do sleep 0.1; done
kill -TERM $pid
wait $pid
echo "PANTAU-HIL: agent stopped"
while [ ! -e /run/work/start-agent ]; do sleep 0.1; done
agent
"""
FLEET_TOML = f"""
[sites.hil-lab]
name = "HIL lab"
region = "QEMU"

[stations.{STATION}]
site = "hil-lab"
profile = "hil"
lifecycle = "active"
"""


@pytest.fixture(scope="module")
def qemu_ready() -> None:
    rc = subprocess.run(["bash", str(HERE / "setup.sh")], capture_output=True, text=True)
    if rc.returncode == 3:
        pytest.skip(f"QEMU cannot be installed on this machine: {rc.stderr.strip()}")
    assert rc.returncode == 0, f"HIL setup failed:\n{rc.stdout}\n{rc.stderr}"


@pytest.fixture
def collector(
    tmp_path: Path, broker_factory: Callable[..., MosquittoBroker]
) -> Iterator[tuple[MosquittoBroker, str]]:
    broker = broker_factory()
    port = free_port()
    (tmp_path / "fleet.toml").write_text(FLEET_TOML)
    log = open(tmp_path / "collector.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            str(BIN / "pantau-collector"),
            "run",
            "--broker",
            broker.url,
            "--listen",
            f"127.0.0.1:{port}",
            "--registry",
            str(tmp_path / "fleet.toml"),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: _status(base + "/readyz") == 200, 30, what="collector /readyz")
    yield broker, base
    proc.terminate()
    proc.wait(10)
    log.close()


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (TimeoutError, urllib.error.URLError, ConnectionError):
        return None


def _get(base: str, path: str) -> Any:
    with urllib.request.urlopen(base + path, timeout=2) as resp:
        return json.loads(resp.read())


def _station(base: str) -> dict[str, Any] | None:
    try:
        return _get(base, f"/api/v1/stations/{STATION}")  # type: ignore[no-any-return]
    except (TimeoutError, urllib.error.URLError, ConnectionError):
        return None


def _component(view: dict[str, Any] | None, role: str) -> dict[str, Any]:
    for comp in (view or {}).get("components", []):
        if comp["id"] == role:
            return comp  # type: ignore[no-any-return]
    return {}


def _wait_status(base: str, role: str, status: str, timeout: float = 60) -> float:
    wait_for(
        lambda: _component(_station(base), role).get("status") == status,
        timeout,
        interval=0.05,
        what=f"{role} {status} at the collector",
    )
    return time.monotonic()


def test_agent_in_guest_reports_usb_hotplug(
    tmp_path: Path, qemu_ready: None, collector: tuple[MosquittoBroker, str]
) -> None:
    broker, base = collector
    work = tmp_path / "guest"
    work.mkdir()
    (work / "agent.toml").write_text(AGENT_TOML)
    (work / "run-agent.sh").write_text(RUN_AGENT)
    command = "exec sh /run/work/run-agent.sh"
    guest = QemuGuest(
        work,
        command,
        broker.port,
        ["usb-ccid,id=reader,bus=xhci.0,port=1,serial=CCID-A", "usb-kbd,id=kbd,bus=xhci.0,port=3"],
    )
    try:
        _scenario(guest, base, work, tmp_path / "data")
    finally:
        guest.stop()
        if (work / "agent.log").exists():
            print("--- guest agent log (tail) ---\n" + (work / "agent.log").read_text()[-3000:])


def _scenario(guest: QemuGuest, base: str, work: Path, data_dir: Path) -> None:
    boot = time.monotonic()
    _wait_status(base, "card-reader", "ok", timeout=180)
    print(f"boot → card reader ok at the collector: {time.monotonic() - boot:.1f} s")
    guest.device_add("usb-wacom-tablet", "pad", 2)  # hot-added: at boot it costs QEMU 5 s
    _wait_status(base, "signature-pad", "ok")
    view = _station(base)
    assert view is not None and view["state"] == "online"
    assert view["ready"] is True, view

    latencies = []
    for serial in ("CCID-A", "CCID-A", "CCID-B"):
        unplugged = guest.device_del("reader")
        latencies.append(_wait_status(base, "card-reader", "missing") - unplugged)
        guest.device_add("usb-ccid", "reader", 1, serial=serial)
        _wait_status(base, "card-reader", "ok")
    wait_for(
        lambda: (
            _component(_station(base), "card-reader").get("device", {}).get("serial") == "CCID-B"
        ),
        30,
        what="new card-reader serial at the collector",
    )
    wait_for(
        lambda: any(
            "serial changed from CCID-A to CCID-B" in e.get("detail", "")
            for e in _get(base, f"/api/v1/events?station={STATION}")["events"]
        ),
        30,
        what="the serial change stored as an event at the collector",
    )
    print(
        "unplug → collector 'missing' latency (s): "
        + ", ".join(f"{x:.2f}" for x in latencies)
        + f"  (poll {POLL_S} s x debounce {DEBOUNCE_POLLS}; "
        + f"goal <= {POLL_S * DEBOUNCE_POLLS + 1:.1f} s)"
    )

    guest.qmp.command("blockdev-add", driver="null-co", **{"node-name": "stick", "size": 64 << 20})
    guest.device_add("usb-storage", "stick", 5, drive="stick", serial="HILSTICK01")
    wait_for(
        lambda: any(u.get("vid") == "46f4" for u in (_station(base) or {}).get("unexpected", [])),
        60,
        what="flash drive listed as unexpected",
    )

    _swap_while_the_agent_is_stopped(guest, base, work, data_dir)

    killed = time.monotonic()
    guest.kill()
    wait_for(
        lambda: (_station(base) or {}).get("state") == "lost",
        30,
        what="station lost after QEMU kill",
    )
    print(f"QEMU killed → station lost at the collector: {time.monotonic() - killed:.1f} s")


def _swap_while_the_agent_is_stopped(guest: QemuGuest, base: str, work: Path,
                                     data_dir: Path) -> None:
    (work / "stop-agent").touch()
    wait_for(lambda: (_station(base) or {}).get("state") == "offline", 30,
             what="station offline (clean stop)")
    guest.device_del("reader")
    guest.device_add("usb-ccid", "reader", 1, serial="CCID-C")
    (work / "start-agent").touch()
    wait_for(
        lambda: any(
            e.get("detail") == "serial changed from CCID-B to CCID-C"
            and (e["from"], e["to"]) == ("ok", "ok")
            for e in _get(base, f"/api/v1/events?station={STATION}")["events"]
        ),
        60,
        what="the swap across the restart stored as an event at the collector",
    )
    reader = AssetReader(data_dir / "assets.sqlite3")
    wait_for(
        lambda: any(
            (c.kind, c.role, c.device and c.device.serial, c.old and c.old.serial)
            == ("swap", "card-reader", "CCID-C", "CCID-B")
            for c in reader.changes(STATION)
        ),
        10,
        what="a swap record in the collector's asset register",
    )
    print("agent restarted over a swapped reader → swap event and swap record at the collector")
