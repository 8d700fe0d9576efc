"""A small demo-like fleet on the real central stack, for dashboard and browser tests.

Real parts only: `stack.central.CentralStack` (Mosquitto, collector, Prometheus
with the deploy/ rules, Alertmanager) fed by `pantau-agent simulate` as a
subprocess, plus one hand-made station that publishes real protocol v1
messages (birth + one retained heartbeat) in a known broken state: its card
reader is unplugged, a USB flash drive is attached, it reports a temperature
and network checks. The simulator's random faults are off (`--faults 0`), so
this station is the one deterministic problem, and the simulator's hosts
(this machine, usually without temperature sensors) cannot leave the
temperature and check panels empty.

The registry adds a planned station (rollout progress) and an active station
that never reports (never_seen), as in the Medan demo. With `schedule=True` it
also has opening hours and the collector's office clock starts at OFFICE_START
(a Monday, 10:00 WIB): medan-amplas and medan-baru are open, medan-area (in WIT,
Saturdays only) is closed, and medan-amplas-01 is in a maintenance window.

paho is imported here only (the tests' MQTT adapter for this directory).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from paho.mqtt import publish

from agent.sim.fleet import layout, registry_toml
from pantau import wire
from stack.central import CentralStack
from tests.support.mosquitto import wait_for

REPO: Final = Path(__file__).resolve().parents[2]
SIM_STATIONS: Final = 4
SIM_SITES: Final = 2  # medan-amplas, medan-area
BROKEN_SITE: Final = "medan-baru"
BROKEN_STATION: Final = "medan-baru-01"
PLANNED_STATION: Final = "medan-baru-02"
SILENT_STATION: Final = "medan-area-09"  # registered active, never reports
MISSING_PART: Final = "card-reader"
KIT: Final = ("fingerprint", "iris", "camera", "signature-pad", "card-reader")
OFFICE_START: Final = "2026-12-07T10:00"  # a Monday, WIB
CLOSED_SITE: Final = "medan-area"
MAINTAINED_STATION: Final = "medan-amplas-01"
SCHEDULE: Final = """
[schedule]
timezone = "Asia/Jakarta"
holidays = [2026-12-25]
hours = { mon = ["08:00-16:00"], tue = ["08:00-16:00"], wed = ["08:00-16:00"] }
"""
SITE_SCHEDULES: Final = {
    CLOSED_SITE: 'schedule = { timezone = "Asia/Jayapura", hours = { sat = ["08:00-12:00"] } }',
    "medan-amplas": ('maintenance = [ { start = 2026-12-07T09:00:00+07:00, end = '
                     '2026-12-07T12:00:00+07:00, reason = "fingerprint scanner replaced", '
                     f'stations = ["{MAINTAINED_STATION}"] }} ]'),
}


def demo_registry(schedule: bool = False) -> str:
    """Simulated stations + the broken, planned and silent ones (DESIGN.md registry format);
    with `schedule`, opening hours and maintenance (see the module's doc)."""
    extra = f"""
[sites.{BROKEN_SITE}]
name = "Medan Baru"
region = "Kota Medan"
install_by = 2020-01-01  # long passed, with a station still planned: the rollout is behind

[stations.{BROKEN_STATION}]
site = "{BROKEN_SITE}"
profile = "ektp-enrollment"
lifecycle = "active"

[stations.{PLANNED_STATION}]
site = "{BROKEN_SITE}"
profile = "ektp-enrollment"
lifecycle = "planned"

[stations.{SILENT_STATION}]
site = "medan-area"
profile = "ektp-enrollment"
lifecycle = "active"
"""
    text = registry_toml(layout(SIM_STATIONS, SIM_SITES)) + extra
    if not schedule:
        return text
    for site, line in SITE_SCHEDULES.items():
        text = text.replace(f"[sites.{site}]\n", f"[sites.{site}]\n{line}\n")
    return SCHEDULE + text


def broken_heartbeat(boot_id: str, now: float) -> wire.Heartbeat:
    since = now - 3 * 3600
    parts = [
        wire.Component(
            id=part, kind="usb", required=True, since=since,
            status="missing" if part == MISSING_PART else "ok",
            detail="not found on the USB bus" if part == MISSING_PART else "",
        )
        for part in KIT
    ]
    host = wire.Host(
        hostname="ktp-baru-01", boot_time=now - 86400, cpu_ratio=0.31, load1=0.7,
        memory_used_ratio=0.58, swap_used_ratio=0.0, temperature_c=67.5,
        disks=[wire.Disk(mount="/", used_ratio=0.72, free_bytes=40_000_000_000)],
    )
    return wire.Heartbeat(
        v=1, site=BROKEN_SITE, station=BROKEN_STATION, seq=1, boot_id=boot_id, ts=now,
        # An hour: the one retained heartbeat keeps the station fresh for the whole test.
        interval_s=3600.0,
        agent=wire.AgentInfo(version="0.1.0", uptime_s=3600.0), host=host,
        components=parts,
        checks=[
            wire.Check(id="enrollment-server", kind="tcp", status="ok", latency_s=0.018),
            wire.Check(id="ministry-vpn", kind="http", status="failed", latency_s=2.5,
                           detail="HTTP 502"),
        ],
        unexpected=[wire.UnexpectedDevice(vid="0781", pid="5567",
                                              product="USB flash drive", port="1-4")],
    )


def publish_broken_station(port: int) -> None:
    boot_id, now = str(uuid.uuid4()), time.time()
    birth = wire.Status(state="online", boot_id=boot_id, session=1, ts=now)
    bodies: list[tuple[wire.MessageKind, bytes]] = [
        ("status", wire.encode(birth)),
        ("heartbeat", wire.encode(broken_heartbeat(boot_id, now))),
    ]
    msgs: list[Any] = [
        {"topic": wire.topic_for(BROKEN_SITE, BROKEN_STATION, kind), "payload": body,
         "qos": 1, "retain": True}
        for kind, body in bodies
    ]
    publish.multiple(msgs, hostname="127.0.0.1", port=port, client_id="demo-broken-station")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.load(resp)


@dataclass
class DemoFleet:
    workdir: Path
    schedule: bool = False
    stack: CentralStack | None = None
    sim: subprocess.Popen[bytes] | None = None
    sim_log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.sim_log = self.workdir / "simulate.log"

    def url(self, part: str) -> str:
        assert self.stack is not None
        return self.stack.url(part)

    def start(self) -> DemoFleet:
        self.workdir.mkdir(parents=True, exist_ok=True)
        registry = self.workdir / "fleet.toml"
        registry.write_text(demo_registry(self.schedule))
        # time_scale: every `for:` shrinks 100x so alerts fire within seconds.
        self.stack = CentralStack(self.workdir, registry, time_scale=0.01, scrape_interval_s=1.0,
                                  start_at=OFFICE_START if self.schedule else None).start()
        with open(self.sim_log, "wb") as log:
            self.sim = subprocess.Popen(
                [sys.executable, "-m", "agent.cli", "simulate", "--broker", self.url("mosquitto"),
                 "--stations", str(SIM_STATIONS), "--sites", str(SIM_SITES), "--interval", "1",
                 "--faults", "0", "--seed", "7", "--workdir", str(self.workdir / "sim")],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        publish_broken_station(self.stack.ports["mosquitto"])
        wait_for(self._all_reporting, timeout=30, interval=0.2,
                 what=f"every demo station reported in the collector (see {self.sim_log})")
        return self

    def _all_reporting(self) -> bool:
        if self.sim is not None and self.sim.poll() is not None:
            raise AssertionError(f"simulator exited with {self.sim.returncode}; see {self.sim_log}")
        stations = get_json(self.url("collector") + "/api/v1/stations")
        rows = stations["stations"] if isinstance(stations, dict) else stations
        online = {s["station"] for s in rows if s["state"] == "online"}
        # Online comes with the birth; "ready" only with the first heartbeat.
        unready = {s["station"] for s in rows if s["state"] == "online" and not s["ready"]}
        return (len(online) == SIM_STATIONS + 1 and BROKEN_STATION in online
                and unready <= {BROKEN_STATION})

    def stop(self) -> None:
        if self.sim is not None and self.sim.poll() is None:
            self.sim.terminate()
            try:
                self.sim.wait(15)
            except subprocess.TimeoutExpired:
                self.sim.kill()
                self.sim.wait()
        if self.stack is not None:
            self.stack.stop()

    def prometheus(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        return get_json(f"{self.url('prometheus')}/api/v1/{path}?{query}")


def collector_installed() -> bool:
    """CentralStack runs the `pantau-collector` script next to this Python (`make deps`)."""
    return (Path(sys.executable).parent / "pantau-collector").exists()
