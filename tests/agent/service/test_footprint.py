"""Memory guards: what a running agent does not load, and usb.ids read for the ids it needs.

The RSS figures themselves are in tests/bench/agent_footprint.py; these tests pin
the causes, so a stray module-level import or a whole-table cache shows up here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agent.config import ComponentSpec, UsbMatch
from agent.probes.usb.inventory import describe_expected, usb_id_names
from agent.sim.kit import station_sysfs, station_toml
from pantau import wire
from tests.agent.service.mqtt_watch import Watch
from tests.support.mosquitto import MosquittoBroker, wait_for

ROOT = Path(__file__).resolve().parents[3]

# A started agent (config loaded, service built, every probe run once) in a fresh
# interpreter; prints which of the watched modules it loaded.
AGENT = """
import sys
from pathlib import Path
from agent.config import load_config
from agent.service import AgentService
from tests.support.kit_agent import kit_env
service = AgentService(load_config(Path(sys.argv[1])), kit_env(Path(sys.argv[3])))
service.runner.run(service.runner.names)
service.queue.close()
print(",".join(sorted(m for m in sys.argv[2].split(",") if m in sys.modules)))
"""
WATCHED = ("json", "concurrent.futures", "agent.probes.checks", "agent.probes.display",
           "agent.sim.fleet")
DISPLAY = '\n[[components]]\nid = "monitor"\nkind = "display"\nconnector = "HDMI-*"\n'
CHECK = '\n[[checks]]\nid = "gw"\nkind = "tcp"\ntarget = "127.0.0.1:9"\ntimeout_s = 0.5\n'


def loaded_modules(tmp_path: Path, extra_toml: str) -> list[str]:
    config = tmp_path / "agent.toml"
    config.write_text(f'station = "st-01"\nsite = "lab"\n[broker]\nurl = "mqtt://127.0.0.1:9"\n'
                      f'[queue]\npath = "{tmp_path / "q.sqlite3"}"\n{extra_toml}')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", AGENT, str(config), ",".join(WATCHED),
                          str(tmp_path / "sys")],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [m for m in out.stdout.strip().split(",") if m]


@pytest.mark.parametrize(("extra_toml", "expected"), [
    ("", []),
    (DISPLAY, ["agent.probes.display"]),
    (CHECK, ["agent.probes.checks", "concurrent.futures"]),
])
def test_agent_loads_only_what_its_config_uses(
    tmp_path: Path, extra_toml: str, expected: list[str]
) -> None:
    assert loaded_modules(tmp_path, extra_toml) == expected


USB_IDS = ("05ba  DigitalPersona, Inc.\n\t000a  Fingerprint Reader\n\t0007  Fingerprint Reader\n"
           "080b  Cross Match Technologies\n\t0010  300LC Series Fingerprint Scanner\n"
           "C 00  (Defined at Interface level)\n\t01  not a product\n")


@pytest.mark.parametrize(("wanted", "names"), [
    ({(0x05BA, 0x000A)}, {(0x05BA, 0x000A): ("DigitalPersona, Inc.", "Fingerprint Reader")}),
    ({(0x080B, 0x0010), (0xFFFF, 0x0001)},
     {(0x080B, 0x0010): ("Cross Match Technologies", "300LC Series Fingerprint Scanner")}),
    (set(), {}),
    (None, {(0x05BA, 0x000A): ("DigitalPersona, Inc.", "Fingerprint Reader"),
            (0x05BA, 0x0007): ("DigitalPersona, Inc.", "Fingerprint Reader"),
            (0x080B, 0x0010): ("Cross Match Technologies", "300LC Series Fingerprint Scanner")}),
])
def test_usb_ids_keeps_only_the_wanted_names(
    tmp_path: Path, wanted: set[tuple[int, int]] | None, names: dict[tuple[int, int], object]
) -> None:
    path = tmp_path / "usb.ids"
    path.write_text(USB_IDS)
    assert usb_id_names(path, wanted) == names


def test_expected_names_are_read_once_per_role(tmp_path: Path) -> None:
    # A missing part's detail is worded every poll; the file must not be re-read each time.
    path = tmp_path / "usb.ids"
    path.write_text(USB_IDS)
    spec = ComponentSpec(id="fp", kind="usb", match=(UsbMatch(0x05BA, 0x0007),))
    first = describe_expected(spec, path)
    path.unlink()
    assert first == "05ba:0007 DigitalPersona, Inc. Fingerprint Reader"
    assert describe_expected(spec, path) == first


# `pantau-agent run` through the simulated kit; SIGUSR2 prints which of the
# watched modules it holds and which payload decoders it has built.
AGENT_RUN = """
import signal, sys
from pantau import wire
from tests.support import kit_agent
def report(*_):
    loaded = [m for m in sys.argv[1].split(",") if m in sys.modules]
    print("modules=" + ",".join(loaded), "decoders=" + ",".join(sorted(wire._DECODERS)),
          flush=True)
signal.signal(signal.SIGUSR2, report)
sys.exit(kit_agent.main(sys.argv[2:]))
"""
RUN_WATCHED = ("argparse", "gettext", "json", "agent.probe_report", "agent.sim.fleet")
SITE = "lab"


def part_events(watch: Watch, station: str) -> list[wire.Event]:
    return [e for e in watch.events(SITE, station) if e.component == "fingerprint"]


def test_running_agent_after_faults_loads_no_parser_and_only_the_decoders_it_uses(
    tmp_path: Path, mosquitto: MosquittoBroker
) -> None:
    sysfs = station_sysfs(tmp_path / "sys")
    config = tmp_path / "agent.toml"
    config.write_text(station_toml("st-run", SITE, mosquitto.url, tmp_path, poll_s=0.1))
    watch = Watch(mosquitto)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    agent = subprocess.Popen([sys.executable, "-c", AGENT_RUN, ",".join(RUN_WATCHED),
                              "--sysfs", str(sysfs), "--toggle-on-usr1", "fingerprint",
                              "run", "--config", str(config)],
                             env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        boot = wait_for(lambda: watch.heartbeats(SITE, "st-run"), 30, what="heartbeat")[0].boot_id
        for n in (1, 2):  # the scanner out, then back
            agent.send_signal(signal.SIGUSR1)
            wait_for(lambda n=n: len(part_events(watch, "st-run")) >= n, 30, what=f"event {n}")
        watch.publish(SITE, "st-run", "ack", wire.encode(wire.Ack(boot_id=boot, seq=2)))
        sent = len(watch.heartbeats(SITE, "st-run"))
        watch.publish(SITE, "st-run", "command", wire.encode(wire.Command(cmd="report")))
        wait_for(lambda: len(watch.heartbeats(SITE, "st-run")) > sent, 30, what="report")
        agent.send_signal(signal.SIGUSR2)
        assert agent.stdout is not None
        line = agent.stdout.readline().split()
    finally:
        watch.close()
        agent.terminate()
        agent.wait(15)
    assert [e.to for e in part_events(watch, "st-run")][:2] == ["missing", "ok"]
    # event: the outbox re-stamps its own journalled events; never the heartbeat's (the biggest)
    assert line == ["modules=", "decoders=ack,command,event,status"]
