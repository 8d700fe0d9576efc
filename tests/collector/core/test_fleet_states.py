"""The station state machine, table-driven, with the clock passed in.

Each scenario is a list of steps applied to station `st-01` of a small fleet;
the table gives the state it must end in and the outcome of every step
("" accepted, else the rejection reason).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from collector.fleet import Fleet
from collector.registry import Lifecycle, Registry, SiteInfo, StationEntry
from collector.station import StationState
from pantau import wire
from tests.collector.core.messages import SITE, T0, component, heartbeat, status

START = T0 + 1000.0  # the tables below count from T0


def registry(**lifecycles: Lifecycle) -> Registry:
    return Registry(
        {SITE: SiteInfo(SITE, "Medan Baru", "Kota Medan")},
        {sid: StationEntry(sid, SITE, "ektp-enrollment", lc) for sid, lc in lifecycles.items()},
    )


def one(lifecycle: Lifecycle) -> Registry:
    """The fleet of most tests: station st-01 alone."""
    return registry(**{"st-01": lifecycle})


@dataclass(frozen=True)
class Birth:
    at: float
    boot: str = "boot-a"
    session: int = 1
    ts: float | None = None


@dataclass(frozen=True)
class Will(Birth):
    pass


@dataclass(frozen=True)
class Stop(Birth):
    pass


@dataclass(frozen=True)
class Hb:
    at: float
    seq: int = 1
    boot: str = "boot-a"
    ts: float | None = None  # default: same as `at` (no clock offset)


@dataclass(frozen=True)
class Tick:
    at: float


Step = Birth | Hb | Tick


def play(fleet: Fleet, steps: list[Step], station: str = "st-01") -> list[str]:
    """Steps count in seconds from T0 (wire times lie in [2000, 2100))."""
    outcomes: list[str] = []
    for step in steps:
        at = T0 + step.at
        if isinstance(step, Tick):
            fleet.tick(at)
            continue
        ts = T0 + (step.ts if step.ts is not None else step.at)
        if isinstance(step, Hb):
            hb = heartbeat(station, step.seq, ts, boot=step.boot)
            out = fleet.apply_heartbeat(hb, at)
        else:
            state: wire.StationLinkState = (
                "lost" if isinstance(step, Will) else "offline" if isinstance(step, Stop)
                else "online"
            )
            msg = status(state, step.boot, step.session, ts, station=station)
            out = fleet.apply_status(SITE, station, msg, at)
        outcomes.append(out.reason)
        fleet.tick(at)
    return outcomes


SCENARIOS: list[tuple[str, Lifecycle, list[Step], StationState, list[str]]] = [
    ("registered, silent", "active", [Tick(10999)], "never_seen", []),
    ("planned, silent", "planned", [Tick(10999)], "planned", []),
    ("birth", "active", [Birth(1001)], "online", [""]),
    ("planned starts reporting", "planned", [Hb(1001)], "online", [""]),
    ("never_seen heartbeat", "active", [Hb(1001)], "online", [""]),
    ("will", "active", [Birth(1001), Will(1002)], "lost", ["", ""]),
    ("clean stop", "active", [Birth(1001), Stop(1002)], "offline", ["", ""]),
    ("late will, older session", "active",
     [Birth(1001, session=1), Birth(1005, session=2), Will(1006, session=1)],
     "online", ["", "", "stale_will"]),
    ("late will, older boot", "active",
     [Birth(1001, boot="b1", ts=1001), Birth(1005, boot="b2", ts=1005),
      Will(1006, boot="b1", ts=1001)],
     "online", ["", "", "stale_will"]),
    ("late stop, older session", "active",
     [Birth(1001, session=3), Stop(1002, session=2)], "online", ["", "stale_will"]),
    ("late birth, older session", "active",
     [Birth(1001, session=3), Birth(1002, session=2)], "online", ["", "out_of_order"]),
    ("will of the current session counts", "active",
     [Birth(1001, session=2), Will(1100, session=2)], "lost", ["", ""]),
    ("reconnect after will", "active",
     [Birth(1001, session=1), Will(1050, session=1), Birth(1060, session=2)],
     "online", ["", "", ""]),
    ("stale after 3 x interval", "active", [Hb(1001), Tick(1046.5)], "stale", [""]),
    ("not stale at 3 x interval", "active", [Hb(1001), Tick(1046.0)], "online", [""]),
    ("birth alone goes stale too", "active", [Birth(1001), Tick(1046.5)], "stale", [""]),
    ("heartbeat revives stale", "active",
     [Hb(1001, seq=1), Tick(1100), Hb(1101, seq=2)], "online", ["", ""]),
    ("heartbeat from a new boot revives lost", "active",
     [Hb(1001, boot="b1"), Will(1002, boot="b1"), Hb(1010, boot="b2")], "online", ["", "", ""]),
    ("late heartbeat of the dead boot keeps lost", "active",
     [Will(1002, boot="b1"), Hb(1003, seq=9, boot="b1")], "lost", ["", ""]),
    ("late heartbeat of a stopped boot keeps offline", "active",
     [Birth(1001, boot="b1"), Stop(1002, boot="b1"), Hb(1003, seq=9, boot="b1")],
     "offline", ["", "", ""]),
    ("out-of-order heartbeat, same boot", "active",
     [Hb(1001, seq=5), Hb(1002, seq=4), Hb(1003, seq=5)], "online",
     ["", "out_of_order", "out_of_order"]),
    ("older heartbeat from another boot", "active",
     [Hb(1001, seq=5, boot="b2", ts=2000), Hb(1002, seq=9, boot="b1", ts=1990)], "online",
     ["", "out_of_order"]),
    ("announced boot wins even with its clock set back", "active",
     [Hb(1001, boot="b1", ts=9000), Birth(1002, boot="b2", ts=1002),
      Hb(1003, boot="b2", ts=1003)], "online", ["", "", ""]),
]


@pytest.mark.parametrize(
    ("lifecycle", "steps", "state", "outcomes"),
    [s[1:] for s in SCENARIOS], ids=[s[0] for s in SCENARIOS],
)
def test_state_machine(
    lifecycle: Lifecycle, steps: list[Step], state: StationState, outcomes: list[str]
) -> None:
    fleet = Fleet(one(lifecycle), now=START)
    assert play(fleet, steps) == outcomes
    view = fleet.station("st-01")
    assert view is not None
    assert view.state == state
    assert view.up == (state == "online")


def test_grace_after_restart_defers_staleness() -> None:
    # A collector (re)started at 5000 hears a retained heartbeat at once; with a
    # 120 s grace nothing goes stale before 5120 even though 3 x 15 s passed.
    fleet = Fleet(one("active"), now=T0 + 5000.0, grace_s=120.0)
    play(fleet, [Hb(5000.5, ts=1000.0)])
    assert fleet.tick(T0 + 5100.0) == []
    assert fleet.station("st-01").state == "online"  # type: ignore[union-attr]
    [moved] = fleet.tick(T0 + 5120.5)
    assert (moved.old, moved.new, moved.reason) == ("online", "stale", "no heartbeat for 45s")


def test_staleness_counts_from_start_not_from_old_receipt() -> None:
    fleet = Fleet(one("active"), now=START)
    fleet.apply_status(SITE, "st-01", status("online"), now=START - 500)  # clock before start
    assert fleet.tick(START + 44) == []
    assert [t.new for t in fleet.tick(START + 46)] == ["stale"]


def test_interval_from_heartbeat_sets_stale_window() -> None:
    fleet = Fleet(one("active"), now=START, stale_factor=2.0)
    fleet.apply_heartbeat(heartbeat(ts=START, interval_s=60.0), START)
    assert fleet.tick(START + 119) == []
    assert [t.reason for t in fleet.tick(START + 121)] == ["no heartbeat for 120s"]


def test_retired_station_is_hidden_and_refused() -> None:
    fleet = Fleet(one("retired"), now=START)
    assert fleet.station("st-01") is None
    assert play(fleet, [Birth(1001), Hb(1002)]) == ["retired", "retired"]
    assert fleet.stations() == []
    assert fleet.drain_transitions() == []


def test_unregistered_station_is_accepted_and_shown() -> None:
    fleet = Fleet(registry(), now=START)
    out = fleet.apply_heartbeat(heartbeat("stray-9", site="lain"), 1001.0)
    assert (out.accepted, out.unregistered) == (True, True)
    view = fleet.station("stray-9")
    assert view is not None
    assert (view.registered, view.lifecycle, view.site, view.state) == (
        False, None, "lain", "online"
    )
    [site] = [s for s in fleet.sites() if s.site == "lain"]
    assert (site.registered, site.name, site.total, site.stations["online"]) == (
        False, "lain", 1, 1
    )
    [transition] = fleet.drain_transitions()
    assert (transition.old, transition.new, transition.station) == (None, "online", "stray-9")


def test_clock_offset_is_best_recent_sample() -> None:
    fleet = Fleet(one("active"), now=START)
    fleet.apply_heartbeat(heartbeat(seq=1, ts=START + 10), START)  # station 10 s ahead
    assert fleet.station("st-01").clock_offset_s == 10.0  # type: ignore[union-attr]
    fleet.apply_heartbeat(heartbeat(seq=2, ts=START + 25), START + 15.5)  # 0.5 s network delay
    view = fleet.station("st-01")
    assert view is not None
    assert view.clock_offset_s == 10.0
    assert (view.last_heartbeat_ts, view.last_seen) == (START + 25, START + 15.5)


@pytest.mark.parametrize(
    ("steps", "components", "up", "ready"),
    [
        ([Birth(1001)], None, True, False),  # online, but nothing known about its parts yet
        ([Hb(1001)], [component("fingerprint")], True, True),
        ([Hb(1001)], [component("fingerprint", "missing")], True, False),
        ([Hb(1001)], [component("fingerprint"), component("spare", "missing", required=False)],
         True, True),
        ([Hb(1001)], [component("fingerprint", "unknown")], True, False),
        ([Hb(1001), Tick(1100)], [component("fingerprint")], False, False),
        ([Hb(1001), Will(1002)], [component("fingerprint")], False, False),
    ],
)
def test_up_and_ready(
    steps: list[Step], components: list[wire.Component] | None, up: bool, ready: bool
) -> None:
    fleet = Fleet(one("active"), now=START)
    for step in steps:
        if isinstance(step, Hb) and components is not None:
            fleet.apply_heartbeat(heartbeat(ts=T0 + step.at, components=components),
                                  T0 + step.at)
        else:
            play(fleet, [step])
    view = fleet.station("st-01")
    assert view is not None
    assert (view.up, view.ready) == (up, ready)


def test_site_rollups_count_states_and_readiness() -> None:
    fleet = Fleet(
        registry(a="active", b="active", c="planned", d="planned", e="retired", f="active"),
        now=START,
    )
    play(fleet, [Hb(1001)], station="a")
    play(fleet, [Hb(1001)], station="d")  # planned station that reports: online, counted
    play(fleet, [Will(1001)], station="f")
    [site] = fleet.sites()
    assert dict(site.stations) == {
        "online": 2, "offline": 0, "lost": 1, "stale": 0, "never_seen": 1, "planned": 1,
    }
    assert (site.ready, site.total, site.planned, site.registered) == (2, 4, 1, True)
    assert (site.name, site.region) == ("Medan Baru", "Kota Medan")


def test_transitions_are_drained_once_with_reasons() -> None:
    fleet = Fleet(one("active"), now=START)
    play(fleet, [Birth(1001, session=4), Will(1010, session=4)])
    made = fleet.tick(T0 + 1100)
    assert made == []
    moves = [(t.old, t.new, t.at - T0, t.reason) for t in fleet.drain_transitions()]
    assert moves == [
        ("never_seen", "online", 1001, "birth (session 4)"),
        ("online", "lost", 1010, "last will: connection lost"),
    ]
    assert fleet.drain_transitions() == []
    view = fleet.station("st-01")
    assert view is not None
    assert (view.state_since - T0, view.boot_id, view.session) == (1010, "boot-a", 4)


def test_views_and_generation_move_on_every_change_only() -> None:
    fleet = Fleet(one("active"), now=START)
    view, gen = fleet.station("st-01"), fleet.generation
    assert view is not None and fleet.station("st-01") is view  # one live view per station
    version = view.version
    assert fleet.apply_heartbeat(heartbeat(seq=1), 1001).accepted
    after = view.components
    assert view.version > version
    assert fleet.generation > gen
    gen = fleet.generation
    assert fleet.apply_heartbeat(heartbeat(seq=1), 1002).reason == "out_of_order"
    assert fleet.generation == gen  # a refusal changes nothing
    fleet.apply_heartbeat(heartbeat(seq=2), 1003)
    # unchanged components keep the same tuple object (render caches use `is`)
    assert view.components is after


@pytest.mark.parametrize(("change", "shape_moves"), [
    ("a later heartbeat, same parts", False),  # live figures only: timestamp, offset, host
    ("a part goes missing", True),
    ("a will: lost", True),
    ("silent past its window: stale", True),
    ("the registry reloaded", True),
])
def test_shape_generation_moves_unless_only_live_figures_did(change: str,
                                                             shape_moves: bool) -> None:
    fleet = Fleet(one("active"), now=START)
    fleet.apply_status(SITE, "st-01", status("online", ts=START), START)
    fleet.apply_heartbeat(heartbeat(seq=1, ts=START), START)
    gen, shape = fleet.generation, fleet.shape_generation
    changes: dict[str, Callable[[], object]] = {
        "a later heartbeat, same parts": lambda: fleet.apply_heartbeat(
            heartbeat(seq=2, ts=START + 15), START + 15),
        "a part goes missing": lambda: fleet.apply_heartbeat(heartbeat(
            seq=2, ts=START + 15, components=[component("fingerprint", "missing")]), START + 15),
        "a will: lost": lambda: fleet.apply_status(SITE, "st-01", status("lost"), START + 15),
        "silent past its window: stale": lambda: fleet.tick(START + 3600),
        "the registry reloaded": lambda: fleet.set_registry(one("active"), START + 15),
    }
    changes[change]()
    assert fleet.generation > gen
    assert (fleet.shape_generation > shape) is shape_moves


def test_set_registry_keeps_state() -> None:
    fleet = Fleet(registry(a="active", b="planned", c="active", d="active"), now=START)
    play(fleet, [Hb(1001)], station="a")
    play(fleet, [Hb(1001)], station="c")
    fleet.drain_transitions()
    # a: retired; b: planned -> active; c: removed but reporting; d: removed, never seen; e: new
    fleet.set_registry(registry(a="retired", b="active", e="planned"), now=2000)
    shown = {v.station: (v.state, v.registered) for v in fleet.stations()}
    assert shown == {
        "b": ("never_seen", True), "c": ("online", False), "e": ("planned", True),
    }
    moves = {(t.station, t.old, t.new) for t in fleet.drain_transitions()}
    assert moves == {("b", "planned", "never_seen"), ("e", None, "planned")}
    assert fleet.apply_heartbeat(heartbeat("a", seq=2), 2001).reason == "retired"
