"""The fleet state machine: pure, single-threaded, time passed in.

Messages (already decoded by pantau.wire) go in through `apply_*`, time
through `tick(now)`; state comes out as frozen views and as `StationTransition`s for
the history store. Nothing here does I/O, so every rule is testable with an
injected clock and the ingest can call it inline without a thread hop.

States: `online` (birth or heartbeat), `offline` (clean stop), `lost` (Last
Will), `stale` (silent for stale_factor x interval_s), `never_seen`
(registered active, never reported), `planned` (registered planned, not
reporting yet). Retired stations are hidden and their messages refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, NamedTuple

from collector.event_ledger import EventLedger
from collector.registry import Registry, StationEntry
from collector.site_rollup import SiteView, site_views
from collector.station import (
    STATION_STATES,
    StationRecord,
    StationState,
    StationView,
)
from pantau import wire

__all__ = [
    "STATION_STATES",
    "EventOutcome",
    "Fleet",
    "Outcome",
    "PartChange",
    "SiteView",
    "StationState",
    "StationTransition",
    "StationView",
]


@dataclass(frozen=True, slots=True)
class StationTransition:
    station: str
    site: str
    old: StationState | None  # None: a station the collector had not known before
    new: StationState
    at: float
    reason: str


class PartChange(NamedTuple):
    """A station's component set as one heartbeat changed it (`ts`: the heartbeat's), and
    the set before (empty: the first since the collector started)."""

    station: str
    site: str
    old: tuple[wire.Component, ...]
    components: tuple[wire.Component, ...]
    ts: float


@dataclass(frozen=True, slots=True)
class Outcome:
    accepted: bool
    reason: str = ""  # in stats.REJECT_REASONS when not accepted
    unregistered: bool = False  # accepted from a station the registry does not know


@dataclass(frozen=True, slots=True)
class EventOutcome:
    accepted: bool
    new: bool
    ack_seq: int | None  # ack everything of (station, boot_id) up to this seq
    reason: str = ""
    unregistered: bool = False
    gap: int = 0  # seqs of this boot skipped for good (collector.event_ledger)


# Shared outcomes: one per possible answer, not one object per message.
ACCEPTED: Final = Outcome(True)
ACCEPTED_UNREGISTERED: Final = Outcome(True, unregistered=True)
REFUSED_RETIRED: Final = Outcome(False, "retired")
REFUSED_OUT_OF_ORDER: Final = Outcome(False, "out_of_order")
REFUSED_STALE_WILL: Final = Outcome(False, "stale_will")


def _initial_state(entry: StationEntry) -> StationState:
    return "planned" if entry.lifecycle == "planned" else "never_seen"


class Fleet:
    def __init__(
        self, registry: Registry, *, now: float, stale_factor: float = 3.0,
        grace_s: float | None = None,
    ) -> None:
        if stale_factor <= 0 or (grace_s is not None and grace_s < 0):
            raise ValueError(f"stale_factor must be > 0 and grace_s >= 0, got {stale_factor}, "
                             f"{grace_s}")
        self._registry = registry
        self._stale_factor = stale_factor
        # Staleness counts from start at the earliest, so a restart raises no
        # false alarms; grace_s can stretch that further (e.g. a slow broker).
        self._started = now
        self._grace_until = now + grace_s if grace_s is not None else now
        self._stations: dict[str, StationRecord] = {}
        self._sorted: list[StationRecord] | None = None
        self._ledger = EventLedger()
        self._transitions: list[StationTransition] = []
        self._part_changes: list[PartChange] = []
        self._generation = 0
        self._shape_generation = 0
        for entry in registry.stations.values():
            if entry.lifecycle != "retired":
                self._add(StationRecord(entry.id, entry.site, entry, _initial_state(entry), now))

    # --- messages ------------------------------------------------------------

    def apply_status(
        self, site: str, station: str, status: wire.Status, now: float
    ) -> Outcome:
        if self._is_retired(station):
            return REFUSED_RETIRED
        rec = self._stations.get(station)
        if rec is None:
            rec = self._adopt(site, station, status.state, now, _status_reason(status))
        elif status.state == "online" and rec.birth_is_older(status):
            return REFUSED_OUT_OF_ORDER
        elif status.state != "online" and rec.down_is_stale(status):
            return REFUSED_STALE_WILL
        if status.state == "online":
            rec.take_birth(status, now)
        else:
            rec.take_down(status)
        self._move(rec, status.state, now, _status_reason(status))
        self._touch(rec)
        return ACCEPTED if rec.entry is not None else ACCEPTED_UNREGISTERED

    def apply_heartbeat(self, hb: wire.Heartbeat, now: float) -> Outcome:
        """The per-message hot path at fleet scale: kept free of allocations."""
        rec = self._stations.get(hb.station)
        if rec is None:
            if self._is_retired(hb.station):  # retired stations have no record
                return REFUSED_RETIRED
            rec = self._adopt(hb.site, hb.station, "online", now, "heartbeat")
        elif rec.heartbeat_out_of_order(hb):
            return REFUSED_OUT_OF_ORDER
        shape = rec.state != "online" and rec.revives_on(hb)
        if shape:
            self._move(rec, "online", now, "heartbeat")
        parts = rec.components
        shape = rec.take_heartbeat(hb, now) or shape
        if rec.components is not parts:  # the record keeps the same tuple while nothing moved
            self._part_changes.append(
                PartChange(rec.station, rec.site, parts, rec.components, hb.ts))
        if rec.site != hb.site:
            self._follow_site(rec, hb.site)
            shape = True
        self._generation += 1
        rec.changed(self._generation, shape)
        if shape:
            self._shape_generation = self._generation
        return ACCEPTED if rec.entry is not None else ACCEPTED_UNREGISTERED

    def apply_event(self, ev: wire.Event, now: float) -> EventOutcome:
        if self._is_retired(ev.station):
            return EventOutcome(False, False, None, "retired")
        result = self._ledger.record(ev)
        unregistered = ev.station not in self._registry.stations
        if result.full:
            return EventOutcome(False, False, result.ack_seq, "out_of_order", unregistered,
                                result.gap)
        if not result.new:
            return EventOutcome(True, False, result.ack_seq, "duplicate", unregistered,
                                result.gap)
        return EventOutcome(True, True, result.ack_seq, "", unregistered, result.gap)

    def apply_rejected_event(
        self, station: str, boot_id: str, seq: int, oldest_pending: int | None
    ) -> EventOutcome:
        """An event the decoder refused but whose key could be read (collector.rejected):
        recorded like any event, so the ack mark moves past it, and shown nowhere."""
        if self._is_retired(station):
            return EventOutcome(False, False, None, "retired")
        result = self._ledger.record_seq(station, boot_id, seq, oldest_pending)
        unregistered = station not in self._registry.stations
        if result.full:
            return EventOutcome(False, False, result.ack_seq, "out_of_order", unregistered,
                                result.gap)
        return EventOutcome(True, result.new, result.ack_seq, "", unregistered, result.gap)

    def restore_event_marks(self, marks: Mapping[tuple[str, str], int]) -> None:
        self._ledger.restore(marks)

    # --- time and registry ---------------------------------------------------

    def tick(self, now: float) -> list[StationTransition]:
        """Turn online stations silent for stale_factor x interval_s stale."""
        made: list[StationTransition] = []
        for rec in self._stations.values():
            if rec.state != "online":
                continue
            window = self._stale_factor * rec.interval_s
            deadline = max(max(rec.fresh_ref, self._started) + window, self._grace_until)
            if now > deadline:
                made.extend(self._move(rec, "stale", now, f"no heartbeat for {window:g}s"))
                self._touch(rec)
        return made

    def drain_transitions(self) -> list[StationTransition]:
        drained, self._transitions = self._transitions, []
        return drained

    def drain_part_changes(self) -> list[PartChange]:
        """Every new component set of a station since the last call, in arrival order."""
        drained, self._part_changes = self._part_changes, []
        return drained

    def set_registry(self, registry: Registry, now: float) -> None:
        """Adopt a reloaded registry, keeping everything learnt from messages."""
        self._registry = registry
        for station_id in list(self._stations):
            rec = self._stations[station_id]
            entry = registry.stations.get(station_id)
            if entry is None or entry.lifecycle == "retired":
                self._unregister(rec, entry)
            elif entry != rec.entry:
                self._reregister(rec, entry, now)
        for entry in registry.stations.values():
            if entry.id not in self._stations and entry.lifecycle != "retired":
                rec = StationRecord(entry.id, entry.site, entry, _initial_state(entry), now)
                self._add(rec)
                self._record(rec, None, now, "added to registry")
        self._generation += 1
        self._shape_generation = self._generation

    # --- queries -------------------------------------------------------------

    def station(self, station_id: str) -> StationView | None:
        """The station's live view (read it on the fleet's thread; see StationView)."""
        return self._stations.get(station_id)

    def stations(self) -> list[StationView]:
        """Every shown station's live view, sorted by (site, station)."""
        return list(self._in_order())

    def sites(self) -> list[SiteView]:
        return site_views(self._registry, self._in_order())

    def event_mark(self, station_id: str, boot_id: str) -> int | None:
        """The contiguous high-water mark of (station, boot_id), for acks and tests."""
        return self._ledger.mark(station_id, boot_id)

    @property
    def generation(self) -> int:
        """Moves at every change of any station's view."""
        return self._generation

    @property
    def shape_generation(self) -> int:
        """Moves with `generation` except when a heartbeat moved only its live figures
        (timestamp, clock offset, host and agent-queue figures: see
        `StationView.shape_version`). The site rollups, the capacity tally and the cached
        /metrics lines read nothing else, and at fleet scale nearly every change is such a
        heartbeat."""
        return self._shape_generation

    @property
    def registry(self) -> Registry:
        return self._registry

    # --- internals -----------------------------------------------------------

    def _in_order(self) -> list[StationRecord]:
        if self._sorted is None:
            self._sorted = sorted(self._stations.values(), key=lambda r: (r.site, r.station))
        return self._sorted

    def _is_retired(self, station: str) -> bool:
        entry = self._registry.stations.get(station)
        return entry is not None and entry.lifecycle == "retired"

    def _add(self, rec: StationRecord) -> None:
        self._stations[rec.station] = rec
        self._sorted = None
        self._touch(rec)

    def _adopt(
        self, site: str, station: str, state: StationState, now: float, reason: str
    ) -> StationRecord:
        """First message from a station the collector did not know: shown, never dropped."""
        entry = self._registry.stations.get(station)
        rec = StationRecord(station, entry.site if entry else site, entry, state, now)
        self._add(rec)
        self._record(rec, None, now, reason)
        return rec

    def _unregister(self, rec: StationRecord, entry: StationEntry | None) -> None:
        if entry is not None or rec.state in ("never_seen", "planned"):
            # Retired, or removed before it ever reported: hide it.
            del self._stations[rec.station]
            self._sorted = None
        elif rec.entry is not None:
            rec.entry = None  # removed but reporting: keep showing it, unregistered
            self._touch(rec)

    def _reregister(self, rec: StationRecord, entry: StationEntry, now: float) -> None:
        rec.entry = entry
        if rec.site != entry.site:
            rec.site = entry.site
            self._sorted = None
        if rec.state in ("planned", "never_seen"):
            self._move(rec, _initial_state(entry), now, "registry changed")
        self._touch(rec)

    def _follow_site(self, rec: StationRecord, site: str) -> None:
        # The registry decides a registered station's site; an unregistered one
        # is shown where it says it is.
        if rec.entry is None and rec.site != site:
            rec.site = site
            self._sorted = None

    def _move(
        self, rec: StationRecord, new: StationState, now: float, reason: str
    ) -> list[StationTransition]:
        if rec.state == new:
            return []
        old, rec.state, rec.state_since = rec.state, new, now
        return [self._record(rec, old, now, reason)]

    def _record(
        self, rec: StationRecord, old: StationState | None, now: float, reason: str
    ) -> StationTransition:
        transition = StationTransition(rec.station, rec.site, old, rec.state, now, reason)
        self._transitions.append(transition)
        return transition

    def _touch(self, rec: StationRecord) -> None:
        self._generation += 1
        self._shape_generation = self._generation
        rec.changed(self._generation)


def _status_reason(status: wire.Status) -> str:
    if status.state == "online":
        return f"birth (session {status.session})"
    if status.state == "lost":
        return "last will: connection lost"
    return f"clean stop: {status.reason}" if status.reason else "clean stop"
