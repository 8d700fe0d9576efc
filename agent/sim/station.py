"""One simulated station: a real `AgentService` over a simulated bus and sysfs.

The fault injector acts on it through plain methods (unplug, crash, …); the
service itself cannot tell it from a real PC.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from agent.probes.base import ProbeEnv
from agent.service import AgentService
from agent.sim.kit import set_monitor, station_bus, station_config, station_sysfs
from agent.sim.usb_backend import SimDevice, kit_devices


class SimStation:
    def __init__(self, site: str, station: str, broker_url: str | Sequence[str], workdir: Path, *,
                 boot_ids: Iterator[str], heartbeat_s: float = 15.0, poll_s: float = 2.0,
                 extra_hubs: int = 0) -> None:
        self.site, self._name = site, station
        self.config = station_config(station, site, broker_url, workdir, poll_s, heartbeat_s)
        self.bus = station_bus(station, extra_hubs)
        self.sysfs = station_sysfs(workdir / "sys")
        self.env = ProbeEnv(usb_backend=self.bus, sysfs_root=self.sysfs)
        self._boot_ids = boot_ids
        self._lock = threading.Lock()
        self.service: AgentService | None = None
        self._thread: threading.Thread | None = None
        self.boots = 0

    @property
    def name(self) -> str:
        return self._name

    # --- life cycle ---------------------------------------------------------------

    def start(self) -> AgentService:
        with self._lock:
            service = AgentService(self.config, self.env, boot_id=next(self._boot_ids))
            thread = threading.Thread(target=service.run, name=f"sim-{self._name}", daemon=True)
            self.service, self._thread = service, thread
            self.boots += 1
        thread.start()
        return service

    def request_stop(self) -> None:
        if self.service is not None:
            self.service.stop()

    def join(self, timeout: float = 15.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def running(self) -> bool:
        return (self._thread is not None and self._thread.is_alive()
                and self.service is not None and not self.service.stopping)

    def crash(self) -> None:
        if self.service is not None:
            self.service.crash()

    def restart(self) -> None:
        self.join()
        self.start()

    # --- hardware -------------------------------------------------------------------

    def _is(self, role: str) -> Callable[[SimDevice], bool]:
        serial = f"{self._name}-{role}"
        return lambda dev: dev.serial == serial

    def unplug(self, role: str) -> None:
        self.bus.unplug(self._is(role))

    def replug(self, role: str) -> None:
        """Plug the part back in (or, if it is in, out and in again: a new address)."""
        if not self.bus.replug(self._is(role)):
            self.bus.plug(self.kit_device(role))

    def kit_device(self, role: str) -> SimDevice:
        return kit_devices(self._name)[role]

    def set_unresponsive(self, role: str, value: bool) -> None:
        self.bus.replace(self._is(role), unresponsive=value)

    def set_monitor(self, connected: bool) -> None:
        set_monitor(self.sysfs, connected)
