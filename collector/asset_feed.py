"""Fleet changes in, asset, repair and readiness records out, in batches to the asset store.

Called from the collector's one-second tick (on the event loop, like ingest):
`step` takes the stations whose component set changed (`Fleet.drain_part_changes`)
and those that moved state, runs the pure register, repair tracker and
readiness tracker over them, and queues what they produced; `run` commits the
queue every `interval_s` in the store's writer thread. Nothing here runs per
heartbeat. A commit that fails is kept and retried with the next one.

Readiness is only written while the collector is ready (broker connected and
retained state loaded): before that it would record every station as down
for the seconds the retained heartbeats take to arrive. The first step after
it becomes ready makes a full pass over the fleet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, Final

from collector.assets import AssetRegister
from collector.parts import NO_ORDER_INFO, OrderInfo
from collector.readiness import ReadinessTracker
from collector.repairs import RepairOps, RepairTracker
from collector.store_assets import AssetBatch, AssetStore
from collector.store_assets_read import AssetReader, AssetStoreError, StoredState
from pantau import wire
from pantau.log_throttle import LogThrottle

if TYPE_CHECKING:
    from collector.fleet import Fleet, PartChange, StationTransition
    from collector.station import StationView

log = logging.getLogger(__name__)
# A whole fleet's first heartbeats (a collector start) arrive within a second or two:
# digested a slice per step, so the records waiting for their commit stay few. A burst of
# short-lived records leaves the process' memory fragmented for good: 10k stations at once
# cost ~300 B per station for the life of the process, slices of 500 ~100 B (measured with
# tests/bench/collector.py --role render). 500 a second is far above a fleet's change rate.
MAX_CHANGES_PER_STEP: Final = 500
MAX_OPEN_RETRY_S: Final = 60.0


class AssetFeed:
    def __init__(self, store: AssetStore, min_open_s: float, interval_s: float = 1.0) -> None:
        self.store = store
        self.register = AssetRegister()
        self.repairs = RepairTracker(min_open_s)
        self.readiness = ReadinessTracker()
        self._interval_s = interval_s
        self._pending = AssetBatch()
        self._backlog: deque[PartChange] = deque()
        self._touched: set[str] = set()
        self._was_ready = False
        self._throttle = LogThrottle(log)
        self.readiness_committed = 0  # rows written so far: tells the figures there is news

    def restore(self, state: StoredState) -> None:
        self.register.restore(state.present, state.last_real)
        self.repairs.restore(state.open_repairs)
        self.readiness.restore(state.last_readiness)

    async def open(self) -> bool:
        """Open the asset database and restore from it; False (logged) if it cannot.

        Until it opens, changes wait in the backlog, undigested: the register must start
        from what the database holds, or every part would look newly installed.
        """
        try:
            await self.store.open()
            state = await asyncio.to_thread(AssetReader(self.store.path).state)
        except AssetStoreError as exc:
            self._throttle.warning("open", "asset database cannot be opened, retrying; the "
                                   "fleet view goes on, parts records wait: %s", exc)
            return False
        self.restore(state)
        log.info("assets at %s (%d present, %d repairs open)", self.store.path,
                 len(state.present), len(state.open_repairs))
        return True

    def note_transitions(self, transitions: Iterable[StationTransition]) -> None:
        self._touched.update(t.station for t in transitions)

    def step(self, fleet: Fleet, now: float, ready: bool) -> None:
        """Digest what changed since the last step; queue the records for the store."""
        self._backlog.extend(fleet.drain_part_changes())
        if not self.store.is_open:
            return  # see open(): nothing is digested before the register is restored
        for _ in range(min(len(self._backlog), MAX_CHANGES_PER_STEP)):
            self._observe(self._backlog.popleft(), now)
        self._queue(self.repairs.tick(now))
        if ready:
            if self._was_ready:
                rows = self.readiness.update(self._touched, fleet.station, now)
            else:  # (again) sure of the fleet: look at every station once
                rows = self.readiness.everything([v.station for v in fleet.stations()],
                                                 fleet.station, now)
            self._pending.readiness += rows
            self._touched = set()
        self._was_ready = ready

    def _observe(self, change: PartChange, now: float) -> None:
        station, site, old_parts, components, ts = change
        old = old_parts or None  # nothing before: the first set since start
        assets = self.register.observe(station, site, old, components, ts)
        self._pending.spells += assets.spells
        self._pending.changes += assets.changes
        # The register first: it remembers the device a role just lost (the model to order).
        self._queue(self.repairs.observe(station, site, old, components, ts, now,
                                         partial(self.register.last_real, station)))
        self._touched.add(station)

    def _queue(self, ops: RepairOps) -> None:
        self._pending.repairs += ops.upserts
        self._pending.dropped += ops.deletes

    def order_info(self, view: StationView, c: wire.Component) -> OrderInfo:
        """For the parts report: the open (or pending) record's model and times, else the
        model the register knows (the last real device, else the first one expected)."""
        rec = self.repairs.open_for(view.station, c.id)
        if rec is not None:
            return OrderInfo(rec.model.label, rec.opened_at, rec.ordered_at)
        spell = self.register.last_real(view.station, c)
        if spell is not None:
            return OrderInfo(f"{spell.device.vid}:{spell.device.pid} {spell.name}".strip())
        if c.expected:
            first = c.expected[0]
            return OrderInfo(f"{first.vid}:{first.pid} {first.name}".strip())
        return NO_ORDER_INFO

    @property
    def pending(self) -> int:
        return len(self._pending)

    @property
    def backlog(self) -> int:
        """Component sets received but not digested yet (see MAX_CHANGES_PER_STEP)."""
        return len(self._backlog)

    async def run(self) -> None:
        """Open (retrying with a growing delay), then commit forever; on cancel, commit
        what is left once more."""
        delay = self._interval_s
        try:
            while not self.store.is_open and not await self.open():
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_OPEN_RETRY_S)
            while True:
                await self.flush()
                await asyncio.sleep(self._interval_s)
        finally:
            with contextlib.suppress(AssetStoreError):
                await asyncio.shield(self.flush())

    async def flush(self) -> bool:
        if not self.store.is_open:
            return False
        batch, self._pending = self._pending, AssetBatch()
        if not len(batch):
            return True
        try:
            await self.store.write(batch)
        except AssetStoreError as exc:
            self._throttle.warning("store", "asset records not saved, will retry: %s", exc)
            self._pending.merge_older(batch)
            return False
        self.readiness_committed += len(batch.readiness)
        return True
