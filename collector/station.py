"""One station's state in the collector: the mutable record and its frozen view.

The record keeps only what the views and the ordering rules need — the parts
of the last heartbeat (not the Heartbeat object itself) and the identities of
the last birth and heartbeat. Unchanged parts keep the *same* tuple object
across heartbeats, so the /metrics renderer can skip them with an `is` check.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Final, Literal, Protocol, TypeVar

from msgspec.structs import replace

from collector.registry import Lifecycle, StationEntry
from pantau import wire

StationState = Literal["online", "offline", "lost", "stale", "never_seen", "planned"]
STATION_STATES: Final[tuple[StationState, ...]] = (
    "online", "offline", "lost", "stale", "never_seen", "planned",
)
DOWN_STATES: Final[frozenset[StationState]] = frozenset({"offline", "lost"})
DEFAULT_INTERVAL_S: Final = 15.0
_OFFSET_WINDOW: Final = 4
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class StationView:
    station: str
    site: str
    state: StationState
    state_since: float
    registered: bool
    lifecycle: Lifecycle | None
    profile: str
    boot_id: str | None
    session: int | None
    hostname: str
    agent_version: str
    last_heartbeat_ts: float | None  # the agent's ts
    last_seen: float | None  # receipt time (collector clock)
    interval_s: float
    clock_offset_s: float | None  # agent ts - receipt time, max over the last few
    components: tuple[wire.Component, ...]
    checks: tuple[wire.Check, ...]
    unexpected: tuple[wire.UnexpectedDevice, ...]
    host: wire.Host | None
    up: bool  # online and fresh (tick() turns a silent station stale)
    ready: bool  # up, has reported, and every required component ok
    version: int  # increases on any change to this view (for render caches)


class StationFacts(Protocol):
    """What renderers read; both `StationView` and the live record provide it.

    /metrics reads the live records through this (read-only, on the fleet's
    thread) so a scrape of 10k stations does not build 10k views first.
    """

    @property
    def station(self) -> str: ...
    @property
    def site(self) -> str: ...
    @property
    def state(self) -> StationState: ...
    @property
    def profile(self) -> str: ...
    @property
    def hostname(self) -> str: ...
    @property
    def agent_version(self) -> str: ...
    @property
    def last_heartbeat_ts(self) -> float | None: ...
    @property
    def clock_offset_s(self) -> float | None: ...
    @property
    def components(self) -> tuple[wire.Component, ...]: ...
    @property
    def checks(self) -> tuple[wire.Check, ...]: ...
    @property
    def unexpected(self) -> tuple[wire.UnexpectedDevice, ...]: ...
    @property
    def host(self) -> wire.Host | None: ...
    @property
    def up(self) -> bool: ...
    @property
    def ready(self) -> bool: ...
    @property
    def version(self) -> int: ...


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


class StationRecord:
    __slots__ = (
        "_offsets", "_view", "agent_version", "birth", "boot_id", "checks", "clock_offset_s",
        "components", "components_ok", "down_boot", "entry", "fresh_ref", "hb_boot", "hb_seq",
        "host", "hostname", "interval_s", "last_heartbeat_ts", "last_seen", "site", "state",
        "state_since", "station", "unexpected", "version",
    )

    def __init__(
        self, station_id: str, site: str, entry: StationEntry | None,
        state: StationState, now: float,
    ) -> None:
        self.station, self.site, self.entry = station_id, site, entry
        self.state, self.state_since = state, now
        self.birth: tuple[str, int, float | None] | None = None  # (boot_id, session, ts)
        self.down_boot: str | None = None  # boot whose Will / clean stop put us down
        self.boot_id: str | None = None
        self.hb_boot: str | None = None
        self.hb_seq = -1
        self.last_heartbeat_ts: float | None = None
        self.last_seen: float | None = None
        self.fresh_ref = now  # receipt time of the last sign of life (birth or heartbeat)
        self.interval_s = DEFAULT_INTERVAL_S
        self._offsets: tuple[float, ...] = ()
        self.clock_offset_s: float | None = None
        self.components_ok = True  # every required component ok, kept with `components`
        self.hostname = self.agent_version = ""
        self.components: tuple[wire.Component, ...] = ()
        self.checks: tuple[wire.Check, ...] = ()
        self.unexpected: tuple[wire.UnexpectedDevice, ...] = ()
        self.host: wire.Host | None = None
        self.version = 0
        self._view: StationView | None = None

    # --- ordering rules ------------------------------------------------------

    def birth_is_older(self, status: wire.Status) -> bool:
        """A birth from this boot with a lower session is a late one; other boots always win."""
        return (
            self.birth is not None
            and status.boot_id == self.birth[0]
            and status.session < self.birth[1]
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
        if self.birth is not None and hb.boot_id == self.birth[0]:
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
        return not (self.state in DOWN_STATES and hb.boot_id == self.down_boot)

    # --- updates -------------------------------------------------------------

    def take_birth(self, status: wire.Status, now: float) -> None:
        self.birth = (status.boot_id, status.session, status.ts)
        self.boot_id = status.boot_id
        self.down_boot = None
        self.fresh_ref = now

    def take_down(self, status: wire.Status) -> None:
        self.down_boot = status.boot_id

    def take_heartbeat(self, hb: wire.Heartbeat, now: float) -> None:
        # Runs for every heartbeat of the fleet: plain attribute work, and the
        # previous objects kept whenever the new ones are equal (fewer
        # allocations, and the /metrics cache can skip unchanged parts by `is`).
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
            self.hostname = host.hostname if host is not None else ""
        if hb.agent.version != self.agent_version:
            self.agent_version = sys.intern(hb.agent.version)  # one copy fleet-wide
        self._take_parts(hb)

    def _take_parts(self, hb: wire.Heartbeat) -> None:
        components = _same_or_new(self.components, hb.components)
        if components is not self.components:
            self.components = components = tuple(map(_shared_text, components))
            self.components_ok = all(c.status == "ok" for c in components if c.required)
        if hb.checks or self.checks:
            self.checks = _same_or_new(self.checks, hb.checks)
        if hb.unexpected or self.unexpected:
            self.unexpected = _same_or_new(self.unexpected, hb.unexpected)

    def changed(self, version: int) -> None:
        self.version = version
        self._view = None

    # --- view ----------------------------------------------------------------

    @property
    def registered(self) -> bool:
        return self.entry is not None

    @property
    def profile(self) -> str:
        return self.entry.profile if self.entry is not None else ""

    @property
    def up(self) -> bool:
        return self.state == "online"

    @property
    def ready(self) -> bool:
        return (
            self.state == "online" and self.last_heartbeat_ts is not None and self.components_ok
        )

    def view(self) -> StationView:
        if self._view is None:
            self._view = self._build_view()
        return self._view

    def _build_view(self) -> StationView:
        birth = self.birth
        entry = self.entry
        return StationView(
            station=self.station, site=self.site, state=self.state, state_since=self.state_since,
            registered=entry is not None,
            lifecycle=entry.lifecycle if entry is not None else None,
            profile=self.profile,
            boot_id=self.boot_id,
            session=birth[1] if birth is not None and birth[0] == self.boot_id else None,
            hostname=self.hostname, agent_version=self.agent_version,
            last_heartbeat_ts=self.last_heartbeat_ts, last_seen=self.last_seen,
            interval_s=self.interval_s,
            clock_offset_s=self.clock_offset_s,
            components=self.components, checks=self.checks, unexpected=self.unexpected,
            host=self.host, up=self.up, ready=self.ready, version=self.version,
        )
