"""The service loop against a real Mosquitto, over a simulated kit and sysfs."""

from __future__ import annotations

import itertools
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from agent.sim.station import SimStation
from agent.sim.usb_backend import SimDevice
from pantau import __version__, wire
from pantau.sd_notify import Notifier
from tests.agent.service.mqtt_watch import Watch, component, retained
from tests.support.mosquitto import MosquittoBroker, wait_for

SITE = "medan-kota"
FLASH = SimDevice(0x0781, 0x5567, "SanDisk", "Cruzer Blade", "4C530001", port_numbers=(9,),
                  device_class=0, interface_classes=((8, 6, 80),))


def boot_ids(prefix: str) -> Iterator[str]:
    return (f"{prefix}-{n}" for n in itertools.count(1))


@pytest.fixture
def station(tmp_path: Path, mosquitto: MosquittoBroker) -> Iterator[SimStation]:
    name = f"st-{uuid.uuid4().hex[:8]}"
    # heartbeat_s is long on purpose: a heartbeat seen within the waits below
    # can only be an immediate one, never the periodic one.
    sim = SimStation(SITE, name, mosquitto.url, tmp_path / name, boot_ids=boot_ids(name),
                     heartbeat_s=60.0, poll_s=0.1)
    yield sim
    sim.request_stop()
    sim.join()


@pytest.fixture
def watch(mosquitto: MosquittoBroker) -> Iterator[Watch]:
    w = Watch(mosquitto)
    yield w
    w.close()


def first_heartbeat(watch: Watch, sim: SimStation) -> wire.Heartbeat:
    return wait_for(lambda: watch.heartbeats(SITE, sim.name), what="a heartbeat")[0]  # type: ignore[no-any-return]


def test_heartbeat_describes_the_kit(station: SimStation, watch: Watch) -> None:
    service = station.start()
    hb = first_heartbeat(watch, station)
    assert (hb.site, hb.station, hb.boot_id) == (SITE, station.name, service.boot_id)
    assert hb.agent.version == __version__ and hb.interval_s == 60.0
    assert {c.id: c.status for c in hb.components} == {
        "fingerprint": "ok", "camera": "ok", "signature-pad": "ok", "card-reader": "ok",
        "monitor": "ok", "iris": "ok"}
    assert component(hb, "fingerprint").device.serial == f"{station.name}-fingerprint"  # type: ignore[union-attr]
    assert hb.unexpected == [] and hb.host is not None and hb.host.hostname


def test_unplug_gives_event_and_immediate_heartbeat(station: SimStation, watch: Watch) -> None:
    service = station.start()
    first_heartbeat(watch, station)
    station.unplug("fingerprint")
    event = wait_for(lambda: watch.events(SITE, station.name), what="an event")[0]
    assert (event.component, event.from_, event.to, event.seq) == ("fingerprint", "ok",
                                                                   "missing", 1)
    assert event.boot_id == service.boot_id
    missing = wait_for(lambda: [h for h in watch.heartbeats(SITE, station.name)
                                if component(h, "fingerprint").status == "missing"],
                       what="heartbeat with the fingerprint missing")[0]
    assert component(missing, "fingerprint").since == pytest.approx(event.ts)
    assert component(missing, "camera").since < event.ts  # untouched parts keep their since


def test_heartbeat_reports_the_unacked_queue(station: SimStation, watch: Watch) -> None:
    station.start()
    hb = first_heartbeat(watch, station)
    assert (hb.agent.queued_events, hb.agent.dropped_events) == (0, 0)
    assert hb.agent.oldest_queued_ts is msgspec.UNSET  # left out: nothing queued
    station.unplug("fingerprint")  # an event no collector acks here
    event = wait_for(lambda: watch.events(SITE, station.name), what="an event")[0]
    after = wait_for(lambda: [h for h in watch.heartbeats(SITE, station.name)
                              if h.agent.queued_events == 1], what="heartbeat with 1 queued")[0]
    assert after.agent.dropped_events == 0
    assert after.agent.oldest_queued_ts == pytest.approx(event.ts, abs=0.5)


def test_serial_swap_is_an_ok_to_ok_event(station: SimStation, watch: Watch) -> None:
    station.start()
    first_heartbeat(watch, station)
    station.bus.replace(lambda d: d.serial == f"{station.name}-camera", serial="SWAPPED-1")
    event = wait_for(lambda: watch.events(SITE, station.name), what="an event")[0]
    assert (event.component, event.from_, event.to) == ("camera", "ok", "ok")
    assert event.detail == f"serial changed from {station.name}-camera to SWAPPED-1"


def test_serial_swapped_while_the_agent_was_stopped_is_reported_after_the_restart(
    station: SimStation, watch: Watch
) -> None:
    first = station.start()
    first_heartbeat(watch, station)
    station.request_stop()
    station.join()
    station.bus.replace(lambda d: d.serial == f"{station.name}-camera", serial="SWAPPED-2")
    station.restart()
    second = station.service
    assert second is not None and second.boot_id != first.boot_id
    event = wait_for(lambda: watch.events(SITE, station.name), what="the swap event")[0]
    assert (event.boot_id, event.seq, event.component, event.from_, event.to) == (
        second.boot_id, 1, "camera", "ok", "ok")
    assert event.detail == f"serial changed from {station.name}-camera to SWAPPED-2"


def test_flash_drive_triggers_heartbeat_without_event(station: SimStation, watch: Watch) -> None:
    station.start()
    first_heartbeat(watch, station)
    station.bus.plug(FLASH)
    hb = wait_for(lambda: [h for h in watch.heartbeats(SITE, station.name) if h.unexpected],
                  what="heartbeat listing the flash drive")[0]
    assert [(u.vid, u.pid) for u in hb.unexpected] == [("0781", "5567")]
    assert watch.events(SITE, station.name) == []


def test_report_command_gives_immediate_heartbeat(station: SimStation, watch: Watch) -> None:
    station.start()
    seq = first_heartbeat(watch, station).seq
    wait_for(lambda: station.service is not None and station.service.publisher.connected)
    watch.publish(SITE, station.name, "command", wire.encode(wire.Command(cmd="report")))
    wait_for(lambda: any(h.seq > seq for h in watch.heartbeats(SITE, station.name)),
             what="heartbeat answering the report command")


def test_crash_fires_the_will_and_restart_is_a_new_boot(station: SimStation,
                                                        mosquitto: MosquittoBroker,
                                                        watch: Watch) -> None:
    first = station.start()
    first_heartbeat(watch, station)
    station.crash()
    wait_for(lambda: any(s.state == "lost" and s.boot_id == first.boot_id
                         for s in watch.statuses(SITE, station.name)), what="the Last Will")
    assert not any(s.state == "offline" for s in watch.statuses(SITE, station.name))
    station.restart()
    second = station.service
    assert second is not None and second.boot_id != first.boot_id
    wait_for(lambda: any(h.boot_id == second.boot_id for h in watch.heartbeats(SITE, station.name)),
             what="heartbeat of the new boot")
    station.request_stop()
    station.join()
    status = retained(mosquitto, SITE, station.name, "status")
    assert isinstance(status, wire.Status)
    assert (status.state, status.reason, status.boot_id) == ("offline", "shutdown", second.boot_id)


class Broken:
    name = "display"

    def __init__(self, *_: object) -> None:
        pass

    def probe(self) -> object:
        raise PermissionError(13, "Permission denied", "/sys/class/drm")


def test_failing_probe_reports_unknown_and_never_stops(tmp_path: Path) -> None:
    from agent.probes.registry import registry
    from agent.service import AgentService
    from agent.sim.kit import station_bus, station_config

    # No broker at all (a closed port): the loop still runs and builds heartbeats.
    config = station_config("st-broken", SITE, "mqtt://127.0.0.1:9", tmp_path, poll_s=0.05)
    service = AgentService(config, probes={**registry(), "display": Broken},  # type: ignore[dict-item]
                           env=_env(station_bus("x")))
    runner = _start(service)
    try:
        hb = wait_for(lambda: service.last_heartbeat, what="a heartbeat built")
        monitor = component(hb, "monitor")
        assert monitor.status == "unknown" and "Permission denied" in monitor.detail
        assert component(hb, "fingerprint").status == "ok"
        assert service.stats()["probe_errors"] == {"display": monitor.detail.split(": ", 1)[1]}
    finally:
        service.stop()
        runner.join(10)
    assert not runner.is_alive()


def test_sd_notify_ready_watchdog_stopping(tmp_path: Path, station: SimStation) -> None:
    from agent.service import AgentService

    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(path)
        listener.settimeout(10)
        notifier = Notifier(path, watchdog_usec=200_000)
        service = AgentService(station.config, station.env, notifier=notifier)
        runner = _start(service)
        got = [listener.recv(256)]
        got += [listener.recv(256) for _ in range(2)]
        assert got[0].startswith(b"READY=1") and got[1:] == [b"WATCHDOG=1"] * 2
        service.stop()
        while (msg := listener.recv(256)) == b"WATCHDOG=1":
            pass
        assert msg == b"STOPPING=1"
        runner.join(10)


def _env(bus: object) -> object:
    from agent.probes.base import ProbeEnv

    return ProbeEnv(usb_backend=bus, sysfs_root=Path("/nonexistent"))


def _start(service: object) -> object:
    import threading

    thread = threading.Thread(target=service.run, daemon=True)  # type: ignore[attr-defined]
    thread.start()
    return thread


def test_heartbeat_payload_is_contract_shaped(station: SimStation, watch: Watch) -> None:
    station.start()
    first_heartbeat(watch, station)
    raw = next(m.payload for m in watch.messages if m.topic.endswith("/heartbeat"))
    keys = set(msgspec.json.decode(raw))
    assert keys == {"v", "site", "station", "seq", "boot_id", "ts", "interval_s", "agent",
                    "host", "components", "checks", "unexpected"}
