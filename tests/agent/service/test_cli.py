"""`pantau-agent` as a subprocess: run (SIGTERM, SIGKILL, replay), probe, check-config, simulate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.sim.kit import set_monitor, station_sysfs, station_toml
from pantau import wire
from tests.agent.service.mqtt_watch import Watch, retained
from tests.support.mosquitto import MosquittoBroker, wait_for

ROOT = Path(__file__).resolve().parents[3]
SITE = "medan-timur"


def agent_cmd(*args: str, sysfs: Path = Path("/nonexistent")) -> list[str]:
    """`pantau-agent ARGS` over a simulated healthy kit (tests.support.kit_agent)."""
    return [sys.executable, "-m", "tests.support.kit_agent", "--sysfs", str(sysfs), *args]


ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def cli(*args: str, sysfs: Path = Path("/nonexistent")) -> subprocess.CompletedProcess[str]:
    return subprocess.run(agent_cmd(*args, sysfs=sysfs), cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=60)


class Station:
    """A temp station dir: agent.toml (fast intervals), sysfs with a monitor, queue file."""

    def __init__(self, root: Path, broker_url: str, extra: str = "") -> None:
        self.name = f"st-{uuid.uuid4().hex[:8]}"
        self.dir = root / self.name
        self.dir.mkdir(parents=True)
        self.sysfs = station_sysfs(self.dir / "sys")
        self.config = self.dir / "agent.toml"
        self.config.write_text(station_toml(self.name, SITE, broker_url, self.dir,
                                            poll_s=0.1, heartbeat_s=60.0) + extra)
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> subprocess.Popen[str]:
        argv = agent_cmd("run", "--config", str(self.config), sysfs=self.sysfs)
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        return self.proc

    def stop(self, sig: int) -> tuple[int, str]:
        assert self.proc is not None
        self.proc.send_signal(sig)
        out, _ = self.proc.communicate(timeout=20)
        return self.proc.returncode, out


@pytest.fixture
def station(tmp_path: Path, mosquitto: MosquittoBroker) -> Iterator[Station]:
    st = Station(tmp_path, mosquitto.url)
    yield st
    if st.proc is not None and st.proc.poll() is None:
        st.proc.kill()
        st.proc.wait(10)


@pytest.fixture
def watch(mosquitto: MosquittoBroker) -> Iterator[Watch]:
    w = Watch(mosquitto)
    yield w
    w.close()


def online(watch: Watch, st: Station) -> wire.Heartbeat:
    return wait_for(lambda: watch.heartbeats(SITE, st.name), timeout=30,  # type: ignore[no-any-return]
                    what="first heartbeat from the agent process")[0]


def test_sigterm_publishes_offline_and_exits_0(station: Station, watch: Watch,
                                               mosquitto: MosquittoBroker) -> None:
    station.start()
    hb = online(watch, station)
    code, out = station.stop(signal.SIGTERM)
    assert code == 0, out
    status = retained(mosquitto, SITE, station.name, "status")
    assert isinstance(status, wire.Status)
    assert (status.state, status.reason, status.boot_id) == ("offline", "shutdown", hb.boot_id)
    assert "Traceback" not in out


def test_sigkill_fires_the_will(station: Station, watch: Watch) -> None:
    station.start()
    hb = online(watch, station)
    station.stop(signal.SIGKILL)
    wait_for(lambda: any(s.state == "lost" and s.boot_id == hb.boot_id
                         for s in watch.statuses(SITE, station.name)), what="Last Will")


def test_restart_replays_unacked_events(station: Station, watch: Watch) -> None:
    station.start()
    first = online(watch, station)
    set_monitor(station.sysfs, connected=False)  # nobody acks: the event stays on disk
    wait_for(lambda: watch.events(SITE, station.name), what="monitor event")
    station.stop(signal.SIGKILL)
    set_monitor(station.sysfs, connected=True)
    station.start()
    wait_for(lambda: any(h.boot_id != first.boot_id for h in watch.heartbeats(SITE, station.name)),
             timeout=30, what="the restarted agent")
    replayed = wait_for(lambda: [e for e in watch.events(SITE, station.name)
                                 if e.boot_id == first.boot_id][1:], what="replayed event")
    assert (replayed[0].seq, replayed[0].component, replayed[0].to) == (1, "monitor", "missing")


@pytest.mark.parametrize(("extra", "code", "bad"), [
    ("", 0, []),
    ('\n[[components]]\nid = "barcode"\nkind = "usb"\nmatch = [{vid = "0c2e", pid = "0b61"}]\n',
     1, ["barcode"]),
])
def test_probe_json_and_exit_code(tmp_path: Path, extra: str, code: int, bad: list[str]) -> None:
    st = Station(tmp_path, "mqtt://127.0.0.1:9", extra)
    result = cli("probe", "--config", str(st.config), "--json", sysfs=st.sysfs)
    assert result.returncode == code, result.stderr
    doc = json.loads(result.stdout)
    assert doc["ok"] is (code == 0)
    statuses = {c["id"]: c["status"] for c in doc["heartbeat"]["components"]}
    assert [cid for cid, status in statuses.items() if status != "ok"] == bad
    assert {"fingerprint", "iris", "monitor"} <= statuses.keys()


def test_probe_table_for_a_person(tmp_path: Path) -> None:
    st = Station(tmp_path, "mqtt://127.0.0.1:9")
    set_monitor(st.sysfs, connected=False)
    result = cli("probe", "--config", str(st.config), sysfs=st.sysfs)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("monitor") and " missing " in line for line in lines)
    assert "\033[" not in result.stdout  # no colour when not a terminal
    assert "1 required part(s) not OK: monitor (missing)" in result.stdout


@pytest.mark.parametrize(("body", "wanted"), [
    ('station = "medan-baru-01"\n', "site"),
    ('station = "Medan Baru"\nsite = "medan-baru"\n', "station"),
    ('station = "a"\nsite = "b"\n[intervals]\npoll_s = -1\n', "intervals.poll_s"),
])
def test_check_config_refuses_bad_files(tmp_path: Path, body: str, wanted: str) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(body)
    for command in ("check-config", "run", "probe"):
        result = cli(command, "--config", str(path))
        assert result.returncode == 2
        assert f"{path}: {wanted}" in result.stderr
        assert "Traceback" not in result.stderr


def test_check_config_summary(tmp_path: Path) -> None:
    st = Station(tmp_path, "mqtt://127.0.0.1:9")
    result = cli("check-config", "--config", str(st.config))
    assert result.returncode == 0, result.stderr
    assert f"station {st.name} at site {SITE}" in result.stdout
    assert "iris" in result.stdout and "monitor" in result.stdout


def test_simulate_three_stations(tmp_path: Path, mosquitto: MosquittoBroker) -> None:
    watch = Watch(mosquitto, ["pantau/v1/+/+/heartbeat"])
    registry = tmp_path / "fleet.toml"
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "simulate", "--broker", mosquitto.url,
         "--stations", "3", "--sites", "2", "--interval", "5", "--faults", "0", "--seed", "7",
         "--duration", "120", "--registry-out", str(registry), "--workdir", str(tmp_path / "sim")],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        expected = {("medan-amplas", "medan-amplas-01"), ("medan-area", "medan-area-01"),
                    ("medan-amplas", "medan-amplas-02")}
        wait_for(lambda: all(watch.heartbeats(s, st) for s, st in expected), timeout=30,
                 what="heartbeats of the three simulated stations")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
    finally:
        watch.close()
        if proc.poll() is None:
            proc.kill()
    fleet = tomllib.loads(registry.read_text())
    assert set(fleet["sites"]) == {"medan-amplas", "medan-area"}
    assert {(v["site"], k) for k, v in fleet["stations"].items()} == expected
    assert all(retained(mosquitto, s, st, "status").state == "offline"  # type: ignore[attr-defined]
               for s, st in expected)
