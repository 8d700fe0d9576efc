"""`make demo`: the central stack and a simulated Medan fleet on this machine.

21 kecamatan, 148 stations: 42 existing kits (two per district office, all
simulated through the real agent code) and 106 planned in the registry (shown
as rollout progress, never alerted). Several kits are broken as in the news:
a fingerprint scanner gone, a card reader that no longer answers, a monitor
unplugged, a flash drive on a biometric station, one PC dead since morning, and
one office enrolling with a single-finger reader while its ten-print scanner is
away for repair (a stand-in: ready, but its repair stays open). Every district
must install its planned stations by a date; two are already behind it.
The offices keep opening hours (stack/demo_schedule.py): the office clock starts
at 07:55 on a working day unless `--start-at` says otherwise, and `--day-length`
compresses the day, so the page shows open and closed offices.
"""

from __future__ import annotations

import argparse
import logging
import random
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from agent.sim.fleet import MEDAN_KECAMATAN, SimFleet
from agent.sim.station import SimStation
from agent.sim.usb_backend import SimDevice
from stack.central import CentralStack
from stack.central_ha import ALERTMANAGERS, PROMETHEUS, HaCentralStack
from stack.compressed_day import DAY_S, office_instant
from stack.demo_schedule import ZONE, default_start_at, default_table, site_lines
from stack.processes import StackError

log = logging.getLogger("pantau.demo")
ACTIVE_PER_SITE = 2
PLANNED_TOTAL = 106
_FLASH_DRIVE = SimDevice(
    0x0781,
    0x5567,
    "SanDisk",
    "Cruzer Blade",
    "4C530001230101",
    port_numbers=(8,),
    device_class=0,
    interface_classes=((8, 6, 80),),
)


def medan_fleet(
    schedule: list[str] | None = None, day: date | None = None
) -> tuple[list[tuple[str, str]], str]:
    """(site, station) of the simulated kits, and the fleet.toml with the planned ones too;
    with `schedule` (the [schedule] lines) and `day`, opening hours and maintenance."""
    active = [
        (site, f"{site}-{n:02d}") for site in MEDAN_KECAMATAN for n in range(1, ACTIVE_PER_SITE + 1)
    ]
    planned = []
    for i in range(PLANNED_TOTAL):
        site = MEDAN_KECAMATAN[i % len(MEDAN_KECAMATAN)]
        planned.append((site, f"{site}-{ACTIVE_PER_SITE + 1 + i // len(MEDAN_KECAMATAN):02d}"))
    lines: list[str] = list(schedule or [])
    for site in MEDAN_KECAMATAN:
        name = site.replace("-", " ").title()
        lines += [f"[sites.{site}]", f'name = "{name}"', 'region = "Kota Medan"',
                  *(site_lines(site, day) if day else []),
                  *([f"install_by = {install_by(site, day).isoformat()}"] if day else []), ""]
    for lifecycle, pairs in (("active", active), ("planned", planned)):
        for site, station in pairs:
            lines += [
                f"[stations.{station}]",
                f'site = "{site}"',
                'profile = "ektp-enrollment"',
                f'lifecycle = "{lifecycle}"',
                "",
            ]
    return active, "\n".join(lines)


BEHIND: Final = ("medan-amplas", "medan-tembung")  # their rollout deadline has passed


def install_by(site: str, day: date) -> date:
    """The district's rollout deadline: a month ahead, or for BEHIND three days ago."""
    return day - timedelta(days=3) if site in BEHIND else day + timedelta(days=30)


_FUTRONIC = SimDevice(0x1491, 0x0088, "Futronic", "FS88 Fingerprint Scanner", "FS88-0042",
                      port_numbers=(9,))


def lend_a_stand_in(station: SimStation) -> None:
    """The ten-print scanner goes for repair; a single-finger reader takes its place."""
    station.unplug("fingerprint")
    station.bus.plug(_FUTRONIC)


BROKEN: dict[str, tuple[str, Callable[[SimStation], object]]] = {
    "medan-kota-01": ("fingerprint scanner gone", lambda s: s.unplug("fingerprint")),
    "medan-belawan-02": (
        "card reader no longer answers",
        lambda s: s.set_unresponsive("card-reader", True),
    ),
    "medan-denai-01": ("monitor unplugged", lambda s: s.set_monitor(False)),
    "medan-sunggal-02": ("flash drive on a biometric station", lambda s: s.bus.plug(_FLASH_DRIVE)),
    "medan-marelan-01": ("signature pad missing", lambda s: s.unplug("signature-pad")),
    "medan-labuhan-02": ("PC dead since morning (no clean shutdown)", lambda s: s.crash()),
    "medan-helvetia-01": ("ten-print scanner away for repair, a single-finger reader stands in",
                          lend_a_stand_in),
}


def break_kits(fleet: SimFleet) -> None:
    for station in fleet.stations:
        if station.name in BROKEN:
            what, action = BROKEN[station.name]
            action(station)
            log.info("broken as in the news: %s — %s", station.name, what)


def run(args: argparse.Namespace, workdir: Path, stop: threading.Event) -> int:
    start_at = args.start_at or default_start_at(time.time())
    active, registry_text = medan_fleet(default_table(workdir), office_day(start_at))
    registry = workdir / "fleet.toml"
    registry.write_text(registry_text)
    kind = HaCentralStack if args.ha else CentralStack
    central = kind(workdir / "central", registry, time_scale=args.time_scale,
                   start_at=start_at, day_length_s=args.day_length, zone=ZONE).start()
    fleet = SimFleet(
        central.url("mosquitto"),
        active,
        workdir / "stations",
        args.seed,
        args.interval,
        min(2.0, args.interval),
    )
    try:
        fleet.start()
        print(banner(central, len(active)), flush=True)
        # Break the kits after their first heartbeat, so the page shows what they were.
        if not stop.wait(args.interval + 1.0):
            break_kits(fleet)
        stop.wait()
    finally:
        fleet.stop()
        central.stop()
    return 0


def banner(central: CentralStack, simulated: int) -> str:
    collector = central.url("collector")
    return "\n".join(
        [
            "",
            f"Pantau demo: {len(MEDAN_KECAMATAN)} kecamatan, {simulated} simulated kits, "
            f"{PLANNED_TOTAL} planned stations, {len(BROKEN)} broken kits",
            f"  status page     {collector}/          (Bahasa Indonesia: {collector}/?lang=id)",
            f"  collector API   {collector}/api/v1/sites   {collector}/api/v1/parts?format=csv",
            f"  metrics         {collector}/metrics",
            *(f"  Prometheus      {central.url(p)}/alerts" for p in PROMETHEUS
              if p in central.ports),
            *(f"  Alertmanager    {central.url(a)}" for a in ALERTMANAGERS if a in central.ports),
            f"  MQTT broker     {central.url('mosquitto')}",
            f"  office clock    {office_clock(central)} in {ZONE} (--start-at, --day-length)",
            f"  logs            {central.workdir}",
            "Ctrl-C stops everything this demo started.",
        ]
    )


def office_day(start_at: str) -> date:
    """The date the office clock starts on (maintenance windows are set on it)."""
    zone = ZoneInfo(ZONE)
    try:
        start = office_instant(start_at, zone, datetime.now(zone).date())
    except ValueError as exc:
        raise StackError(f"--start-at: {exc}") from None
    return datetime.fromtimestamp(start, zone).date()


def office_clock(central: CentralStack) -> str:
    day = central.office_day
    if day is None:
        return "real time"
    started = datetime.fromtimestamp(day.office_start, ZoneInfo(ZONE))
    return f"from {started:%Y-%m-%d %H:%M}, one day per {DAY_S / day.speed:g} s"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--interval", type=float, default=15.0, help="heartbeat seconds (15)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="scale alert `for:` durations (0.1 = ten times faster alerts)",
    )
    parser.add_argument(
        "--start-at",
        help="office clock start, HH:MM or YYYY-MM-DDTHH:MM in WIB (default: 07:55 on the "
        "next working day)",
    )
    parser.add_argument(
        "--day-length",
        type=float,
        help="real seconds per office day (default 86400; 1440 = a day in 24 minutes)",
    )
    parser.add_argument("--ha", action="store_true",
                        help="a Prometheus pair and a 2-node Alertmanager cluster (make demo HA=1)")
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 16))
    parser.add_argument("--workdir", type=Path, help="keep state and logs here (default: temp)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("agent").setLevel(logging.WARNING)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if args.workdir:
            args.workdir.mkdir(parents=True, exist_ok=True)
            return run(args, args.workdir, stop)
        with tempfile.TemporaryDirectory(prefix="pantau-demo-") as tmp:
            return run(args, Path(tmp), stop)
    except StackError as exc:
        log.error("the demo could not start: %s", exc)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
