"""One station in the collector: `StationView` (what views read) and `StationRecord`.

The record keeps only what the views and the ordering rules need — the parts
of the last heartbeat (not the Heartbeat object itself) and the identities of
the last birth and heartbeat. Unchanged parts keep the *same* tuple object
across heartbeats, so the /metrics renderer can skip them with an `is` check.
"""

from __future__ import annotations

import sys
from typing import Final, Literal, NamedTuple, TypeVar

import msgspec
from msgspec.structs import replace

from collector.registry import Lifecycle, StationEntry
from pantau import wire

StationState = Literal["online", "offline", "lost", "stale", "never_seen", "planned"]
STATION_STATES: Final[tuple[StationState, ...]] = (
    "online", "offline", "lost", "stale", "never_seen", "planned",
)
# Down by the station's own word: a clean stop (`offline`) or its Last Will (`lost`).
ANNOUNCED_DOWN_STATES: Final[frozenset[StationState]] = frozenset({"offline", "lost"})
DEFAULT_INTERVAL_S: Final = 15.0
_OFFSET_WINDOW: Final = 4
_T = TypeVar("_T")


class Birth(NamedTuple):
    """The identity of a station's last birth (`online` status)."""

    boot_id: str
    session: int
    ts: float | None


class StationView:
    """One station as every view reads it: API, page, /metrics, parts, site rollups.

    The fleet's `StationRecord` is this object plus the bookkeeping its ordering
    rules need, and keeps it current. Readers get it typed as `StationView`,
    treat it as read-only and read it on the fleet's thread (HTTP handlers and
    scrapes run on the event loop that applies messages), so a scrape of 10k
    stations copies nothing. `version` increases on any change (render caches);
    `shape_version` only when more than the heartbeat's live figures (timestamp,
    clock offset, host figures) moved, so /metrics re-renders its cached lines
    only for stations whose lines can differ.
    """

    __slots__ = (
        "agent_version", "birth", "boot_id", "checks", "clock_offset_s", "components",
        "components_ok", "dropped_events", "entry", "host", "hostname", "interval_s",
        "last_heartbeat_ts", "last_seen", "oldest_queued_ts", "queued_events", "shape_version",
        "site", "state", "state_since", "station", "unexpected", "version",
    )

    def __init__(
        self, station_id: str, site: str, entry: StationEntry | None,
        state: StationState, now: float,
    ) -> None:
        self.station, self.site, self.entry = station_id, site, entry
        self.state, self.state_since = state, now
        self.birth: Birth | None = None
        self.boot_id: str | None = None
        self.last_heartbeat_ts: float | None = None  # the agent's ts
        self.last_seen: float | None = None  # receipt time (collector clock)
        self.interval_s = DEFAULT_INTERVAL_S
        self.clock_offset_s: float | None = None  # agent ts - receipt time, max of the last few
        self.components_ok = True  # every required component ok, kept with `components`
        self.hostname = self.agent_version = ""
        self.components: tuple[wire.Component, ...] = ()
        self.checks: tuple[wire.Check, ...] = ()
        self.unexpected: tuple[wire.UnexpectedDevice, ...] = ()
        self.host: wire.Host | None = None
        # The agent's event queue as its last heartbeat told (None: an older agent).
        self.queued_events: int | None = None
        self.dropped_events: int | None = None
        self.oldest_queued_ts: float | None = None
        self.version = self.shape_version = 0

    @property
    def registered(self) -> bool:
        return self.entry is not None

    @property
    def lifecycle(self) -> Lifecycle | None:
        return self.entry.lifecycle if self.entry is not None else None

    @property
    def profile(self) -> str:
        return self.entry.profile if self.entry is not None else ""

    @property
    def session(self) -> int | None:
        """The MQTT session number of the current boot's last birth."""
        birth = self.birth
        return birth.session if birth is not None and birth.boot_id == self.boot_id else None

    @property
    def up(self) -> bool:
        """Online and fresh (the fleet's tick turns a silent station stale)."""
        return self.state == "online"

    @property
    def ready(self) -> bool:
        """Up, has reported, and every required component ok."""
        return (
            self.state == "online" and self.last_heartbeat_ts is not None and self.components_ok
        )


def _same_or_new(old: tuple[_T, ...], new: list[_T]) -> tuple[_T, ...]:
    fresh = tuple(new)
    return old if fresh == old else fresh


def _shared_text(c: wire.Component) -> wire.Component:
    """`c` with its fleet-wide strings interned (ids, kinds, USB ids, names).

    Every station of a kit model reports the same ones; without this each
    station keeps ~30 copies (1.5 KB) of them. Serials and details stay as
    they are: they differ per station. Runs only when a component set changed.
    """
    d = c.device
    if d is not None:
        d = replace(d, vid=sys.intern(d.vid), pid=sys.intern(d.pid), port=sys.intern(d.port),
                    speed=sys.intern(d.speed), manufacturer=sys.intern(d.manufacturer),
                    product=sys.intern(d.product))
    return replace(c, id=sys.intern(c.id), kind=sys.intern(c.kind), device=d)


class StationRecord(StationView):
    """A `StationView` plus what the ordering rules need; only the Fleet mutates it."""

    __slots__ = ("_offsets", "down_boot", "fresh_ref", "hb_boot", "hb_seq")

    def __init__(
        self, station_id: str, site: str, entry: StationEntry | None,
        state: StationState, now: float,
    ) -> None:
        super().__init__(station_id, site, entry, state, now)
        self.down_boot: str | None = None  # boot whose Will / clean stop put us down
        self.hb_boot: str | None = None
        self.hb_seq = -1
        self.fresh_ref = now  # receipt time of the last sign of life (birth or heartbeat)
        self._offsets: tuple[float, ...] = ()

    # --- ordering rules ------------------------------------------------------

    def birth_is_older(self, status: wire.Status) -> bool:
        """A birth from this boot with a lower session is a late one; other boots always win."""
        return (
            self.birth is not None
            and status.boot_id == self.birth.boot_id
            and status.session < self.birth.session
        )

    def down_is_stale(self, status: wire.Status) -> bool:
        """A Will / clean stop from a session older than the current birth (late Will)."""
        if self.birth is None:
            return False
        boot, session, ts = self.birth
        if status.boot_id == boot:
            return status.session < session
        return status.ts is not None and ts is not None and status.ts < ts

    def heartbeat_out_of_order(self, hb: wire.Heartbeat) -> bool:
        if hb.boot_id == self.hb_boot:
            return hb.seq <= self.hb_seq
        if self.birth is not None and hb.boot_id == self.birth.boot_id:
            # The boot that announced itself last is current even if its clock
            # was set back since the previous boot.
            return False
        return self.last_heartbeat_ts is not None and hb.ts < self.last_heartbeat_ts

    def revives_on(self, hb: wire.Heartbeat) -> bool:
        """Whether this heartbeat brings the station (back) online.

        A heartbeat from the very boot whose Will or clean stop we hold is a
        late or retained copy: a live agent publishes a new birth after every
        reconnect (and republishes it when it sees its own stale Will).
        """
        if self.state == "online":
            return False
        return not (self.state in ANNOUNCED_DOWN_STATES and hb.boot_id == self.down_boot)

    # --- updates -------------------------------------------------------------

    def take_birth(self, status: wire.Status, now: float) -> None:
        self.birth = Birth(status.boot_id, status.session, status.ts)
        self.boot_id = status.boot_id
        self.down_boot = None
        self.fresh_ref = now

    def take_down(self, status: wire.Status) -> None:
        self.down_boot = status.boot_id

    def take_heartbeat(self, hb: wire.Heartbeat, now: float) -> bool:
        """Take the heartbeat in; True if more than its live figures moved (`shape_version`)."""
        # Runs for every heartbeat of the fleet: plain attribute work, and the
        # previous objects kept whenever the new ones are equal (fewer
        # allocations, and the /metrics cache can skip unchanged parts by `is`).
        shape = self.last_heartbeat_ts is None
        ts = hb.ts
        self.hb_boot = self.boot_id = hb.boot_id
        self.hb_seq, self.last_heartbeat_ts = hb.seq, ts
        self.last_seen = self.fresh_ref = now
        self.interval_s = hb.interval_s
        self._offsets = offsets = (*self._offsets[1 - _OFFSET_WINDOW:], ts - now)
        # Network delay only ever makes (ts - receipt) smaller, so the max of
        # the last few samples is the best estimate of the true offset.
        self.clock_offset_s = max(offsets)
        host = hb.host
        if host != self.host:
            self.host = host
            hostname = host.hostname if host is not None else ""
            shape = shape or hostname != self.hostname
            self.hostname = hostname
        agent = hb.agent
        if agent.version != self.agent_version:
            self.agent_version = sys.intern(agent.version)  # one copy fleet-wide
            shape = True
        # Live figures, like the host's: rendered at every scrape, no shape change.
        # Inline, not a helper: three calls a heartbeat are ~2 % of the ingest path.
        queued, dropped, oldest = agent.queued_events, agent.dropped_events, agent.oldest_queued_ts
        self.queued_events = None if queued is msgspec.UNSET else queued
        self.dropped_events = None if dropped is msgspec.UNSET else dropped
        self.oldest_queued_ts = None if oldest is msgspec.UNSET else oldest
        return self._take_parts(hb) or shape

    def _take_parts(self, hb: wire.Heartbeat) -> bool:
        """Components, checks and unexpected devices; True if any of them moved."""
        components = _same_or_new(self.components, hb.components)
        moved = components is not self.components
        if moved:
            self.components = components = tuple(map(_shared_text, components))
            self.components_ok = all(c.status == "ok" for c in components if c.required)
        if hb.checks or self.checks:
            checks = _same_or_new(self.checks, hb.checks)
            moved = moved or checks is not self.checks
            self.checks = checks
        if hb.unexpected or self.unexpected:
            unexpected = _same_or_new(self.unexpected, hb.unexpected)
            moved = moved or unexpected is not self.unexpected
            self.unexpected = unexpected
        return moved

    def changed(self, version: int, shape: bool = True) -> None:
        """A new `version`; `shape=False` when only the live figures moved."""
        self.version = version
        if shape:
            self.shape_version = version
