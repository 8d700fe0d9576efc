"""In-process simulated stations for the fault suite, and the events they committed.

Each `FaultStation` is a real `AgentService` (probes, disk queue, paho
publisher) over a simulated e-KTP kit, like `pantau-agent simulate`, with
settings tuned so faults play out in seconds: keepalive 5 s, reconnect
backoff 0.2-2 s, poll 0.2 s, heartbeat 2 s, debounce 1 poll, flapping off.

Which events were committed is derived from the script, never by wrapping
the agent: `toggle()` unplugs (or plugs back) the five serial-carrying parts,
waits until the agent's own last observation shows the new status, and
counts five transitions for the current boot. Events are numbered 1, 2, 3 …
per boot (agent.state_machine.EventNumberer), so a boot that made N events
committed exactly seqs 1..N.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from agent.config import AgentConfig, load_config
from agent.probes.base import ProbeEnv
from agent.service import AgentService
from agent.sim.fleet import layout
from agent.sim.kit import FAULT_ROLES, station_bus, station_sysfs, station_toml
from agent.sim.usb_backend import kit_devices
from tests.support.mosquitto import wait_for

EventKey = tuple[str, str, int]  # (station, boot_id, seq)
KEEPALIVE_S = 5  # the agent config's minimum: Will after ~7.5 s of silence
HEARTBEAT_S = 2.0
POLL_S = 0.2


class SkewClock:
    """The station's wall clock: real time plus an offset the test may jump."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset_s


def fault_toml(station: str, site: str, broker_url: str, workdir: Path,
               queue_path: Path | None = None, broker_extra: str = "") -> str:
    """`broker_extra`: more [broker] lines (TLS and the account on a production broker)."""
    text = station_toml(station, site, broker_url, workdir, POLL_S, HEARTBEAT_S)
    text = text.replace(f'url = "{broker_url}"\n', f'url = "{broker_url}"\n'
                        f"keepalive_s = {KEEPALIVE_S}\nconnect_timeout_s = 3\n"
                        "reconnect_min_s = 0.2\nreconnect_max_s = 2\n" + broker_extra)
    if queue_path is not None:
        text = text.replace(str(workdir / "queue.sqlite3"), str(queue_path))
    # One poll absent = missing, and no flapping verdict: each toggle is exactly one event.
    return text + "\n[usb]\ndebounce_polls = 1\nflap_changes = 1000\n"


def fault_config(station: str, site: str, broker_url: str, workdir: Path,
                 queue_path: Path | None = None, broker_extra: str = "") -> AgentConfig:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "agent.toml"
    path.write_text(fault_toml(station, site, broker_url, workdir, queue_path, broker_extra))
    return load_config(path)


class FaultStation:
    def __init__(self, site: str, name: str, broker_url: str, workdir: Path,
                 queue_path: Path | None = None, broker_extra: str = "") -> None:
        self.site, self.name = site, name
        self.config = fault_config(name, site, broker_url, workdir, queue_path, broker_extra)
        self.clock = SkewClock()
        self.bus = station_bus(name)
        self.env = ProbeEnv(usb_backend=self.bus, sysfs_root=station_sysfs(workdir / "sys"),
                            clock=self.clock)
        self.service: AgentService | None = None
        self._thread: threading.Thread | None = None
        self.committed: Counter[str] = Counter()  # boot_id -> events made in that boot
        self.parts_in = True

    # --- life cycle -----------------------------------------------------------

    def start(self) -> FaultStation:
        self.service = AgentService(self.config, self.env)
        self._thread = threading.Thread(target=self.service.run, name=f"fault-{self.name}",
                                        daemon=True)
        self._thread.start()
        wait_for(lambda: self.service is not None and self.service.last_observation is not None,
                 10, what=f"{self.name}: first poll")
        return self

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
        if self._thread is not None:
            self._thread.join(15)
            assert not self._thread.is_alive(), f"{self.name}: agent did not stop"

    @property
    def boot_id(self) -> str:
        assert self.service is not None
        return self.service.boot_id

    @property
    def connected(self) -> bool:
        return self.service is not None and self.service.publisher.connected

    # --- the event script -------------------------------------------------------

    def toggle(self, timeout: float = 10.0) -> None:
        """Unplug (or plug back) the five parts and wait until the agent has seen it."""
        devices = kit_devices(self.name)
        if self.parts_in:
            self.bus.unplug(lambda d: d.serial in {devices[r].serial for r in FAULT_ROLES})
        else:
            for role in FAULT_ROLES:
                self.bus.plug(devices[role])
        self.parts_in = not self.parts_in
        want = "ok" if self.parts_in else "missing"
        wait_for(lambda: self._all_are(want), timeout, what=f"{self.name}: parts {want}")
        self.committed[self.boot_id] += len(FAULT_ROLES)

    def _all_are(self, status: str) -> bool:
        assert self.service is not None
        obs = self.service.last_observation
        return obs is not None and all(
            c.status == status for c in obs.components if c.id in FAULT_ROLES)

    def expected(self) -> set[EventKey]:
        return {(self.name, boot, seq)
                for boot, count in self.committed.items() for seq in range(1, count + 1)}

    @property
    def queued(self) -> int:
        assert self.service is not None
        return len(self.service.queue)


class EventPump:
    """Toggles every station's parts in a background thread until stopped: a steady
    stream of events (10 per station per cycle) while the test injects a fault."""

    def __init__(self, stations: Iterable[FaultStation], pause_s: float = 0.1) -> None:
        self.stations = list(stations)
        self._pause_s = pause_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-pump", daemon=True)
        self.error: BaseException | None = None
        self.toggles = 0

    def __enter__(self) -> EventPump:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        if self.error is not None:
            raise AssertionError(f"event pump failed: {self.error}") from self.error

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                for station in self.stations:
                    station.toggle()
                    self.toggles += 1
                self._stop.wait(self._pause_s)
        except BaseException as exc:  # reported by stop(), in the test's thread
            self.error = exc


def make_fleet(broker_url: str, workdir: Path, count: int, sites: int = 2,
               queue_dirs: dict[str, Path] | None = None,
               account: Callable[[str], str] | None = None) -> list[FaultStation]:
    """`account(name)`: the station's extra [broker] lines (its broker account)."""
    return [FaultStation(site, name, broker_url, workdir / name, (queue_dirs or {}).get(name),
                         account(name) if account is not None else "")
            for site, name in layout(count, sites)]


@dataclass(frozen=True)
class Applied:
    """How often the collector's last run took events as new, against what it stored.

    The history table is UNIQUE by (station, boot_id, seq) and written with
    INSERT OR IGNORE, so counting its rows can never show a duplicate. These
    figures can: `applied` is the run's `pantau_collector_messages_total{kind="event"}`
    (events its ledger took as new), `rows` the history rows received in that
    run; an event applied twice makes `applied > rows`. `refused` is the run's
    `rejected{reason="duplicate"}`: deliveries it recognised as already seen.
    `repeats` are station transitions of the run recorded twice (a row whose
    `old` is not the previous row's `new`, or `old == new`).
    """

    applied: int
    rows: int
    refused: int
    transitions: int = 0
    repeats: tuple[tuple[str, str | None, str], ...] = ()

    @property
    def once(self) -> bool:
        return self.applied == self.rows and not self.repeats

    def line(self) -> str:
        return (f"last run: applied {self.applied} events as new, stored {self.rows} rows, "
                f"refused {self.refused} deliveries as duplicates; "
                f"{self.transitions} station transitions, {len(self.repeats)} recorded twice")


@dataclass(frozen=True)
class LedgerReport:
    expected: int
    stored: int
    missing: frozenset[EventKey]
    extra: frozenset[EventKey]
    applied: Applied | None = None

    @property
    def exact(self) -> bool:
        once = self.applied is None or self.applied.once
        return once and not self.missing and not self.extra

    def line(self) -> str:
        return (f"events expected={self.expected} stored={self.stored} "
                f"missing={len(self.missing)} extra={len(self.extra)}"
                + (f"; {self.applied.line()}" if self.applied is not None else ""))


def compare(expected: set[EventKey], stored_rows: list[EventKey],
            applied: Applied | None = None) -> LedgerReport:
    stored = set(stored_rows)
    return LedgerReport(len(expected), len(stored), frozenset(expected - stored),
                        frozenset(stored - expected), applied)


def expected_of(stations: Iterable[FaultStation]) -> set[EventKey]:
    return set().union(*(s.expected() for s in stations))

