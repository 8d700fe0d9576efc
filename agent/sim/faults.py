"""Random faults for the simulated fleet, reproducible from a seed.

Each second every running station draws against `rate` (faults per station
per minute). A fault is one of: a part unplugged (plugged back later), a part
that stops answering (the card reader's control check fails), a flapping part
(re-plugged again and again for a while), the monitor unplugged, or a station
crash (its connection dropped without a clean stop, so the broker fires the
Last Will; the station comes back with a new boot_id a little later).
"""

from __future__ import annotations

import heapq
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from agent.sim.kit import FAULT_ROLES

log = logging.getLogger("pantau.simulate")

Action = Callable[[], None]
FAULT_KINDS = ("unplug", "unresponsive", "flap", "monitor", "crash")


class StationHandle(Protocol):
    """What the injector may do to one station (implemented by the fleet)."""

    @property
    def name(self) -> str: ...

    def unplug(self, role: str) -> None: ...
    def replug(self, role: str) -> None: ...
    def set_unresponsive(self, role: str, value: bool) -> None: ...
    def set_monitor(self, connected: bool) -> None: ...
    def crash(self) -> None: ...
    def restart(self) -> None: ...
    def running(self) -> bool: ...


@dataclass(order=True)
class _Scheduled:
    at: float
    order: int
    action: Action = field(compare=False)


class FaultInjector:
    def __init__(self, stations: list[StationHandle], rate_per_min: float, rng: random.Random,
                 on_fault: Callable[[str, str], None] | None = None) -> None:
        self._stations, self._rate, self._rng = stations, rate_per_min, rng
        self._pending: list[_Scheduled] = []
        self._order = 0
        self.faults: list[tuple[str, str]] = []  # (station, description), for the summary
        self._on_fault = on_fault

    def later(self, at: float, action: Action) -> None:
        self._order += 1
        heapq.heappush(self._pending, _Scheduled(at, self._order, action))

    def tick(self, now: float, dt: float) -> None:
        """Run due follow-ups (replugs, restarts), then draw new faults for `dt` seconds."""
        while self._pending and self._pending[0].at <= now:
            heapq.heappop(self._pending).action()
        chance = self._rate * dt / 60.0
        for station in self._stations:
            if station.running() and self._rng.random() < chance:
                self._inject(station, now)

    def _inject(self, st: StationHandle, now: float) -> None:
        kind = self._rng.choice(FAULT_KINDS)
        role = self._rng.choice(FAULT_ROLES)
        back = now + self._rng.uniform(20.0, 120.0)
        if kind == "unplug":
            st.unplug(role)
            self.later(back, lambda: st.replug(role))
            what = f"{role} unplugged, back in {back - now:.0f} s"
        elif kind == "unresponsive":
            st.set_unresponsive("card-reader", True)
            self.later(back, lambda: st.set_unresponsive("card-reader", False))
            what = f"card-reader stops answering for {back - now:.0f} s"
        elif kind == "flap":
            for k in range(8):  # a loose cable: gone and back every ~2 polls
                self.later(now + 2.0 + k * 4.0, lambda: st.replug(role))
            what = f"{role} flapping (loose cable) for ~30 s"
        elif kind == "monitor":
            st.set_monitor(False)
            self.later(back, lambda: st.set_monitor(True))
            what = f"monitor unplugged, back in {back - now:.0f} s"
        else:
            st.crash()
            self.later(now + self._rng.uniform(5.0, 30.0), st.restart)
            what = "station crashed (Last Will), restarting"
        self.faults.append((st.name, what))
        log.info("fault: %s: %s", st.name, what)
