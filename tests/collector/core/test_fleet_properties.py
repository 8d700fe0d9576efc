"""Random message sequences never break the fleet or the /metrics cache.

Valid protocol Structs in any order (late, repeated, from retired and unknown
stations) plus garbage through `wire.decode_message`, with the clock
moving forward; after every step the invariants below must hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.exposition import MetricsRenderer
from collector.fleet import Fleet
from collector.registry import Registry, SiteInfo, StationEntry
from collector.station import STATION_STATES
from collector.stats import REJECT_REASONS, IngestStats
from pantau import wire
from tests.collector.core.messages import T0

SITE = "s1"
REGISTRY = Registry(
    {SITE: SiteInfo(SITE, "S1", "R")},
    {
        "st-a": StationEntry("st-a", SITE, "p", "active"),
        "st-b": StationEntry("st-b", SITE, "p", "planned"),
        "st-c": StationEntry("st-c", SITE, "p", "retired"),
    },
)
stations = st.sampled_from(["st-a", "st-b", "st-c", "new-x"])
boots = st.sampled_from(["b1", "b2", "b3"])
times = st.floats(min_value=T0, max_value=T0 + 5000.0)  # wire times: [2000, 2100)
statuses = st.sampled_from(wire.COMPONENT_STATUSES)


@st.composite
def heartbeats(draw: st.DrawFn) -> wire.Heartbeat:
    comps = [
        wire.Component(id=f"c{i}", kind="usb", required=draw(st.booleans()),
                           status=draw(statuses), since=draw(times))
        for i in range(draw(st.integers(0, 3)))
    ]
    return wire.Heartbeat(
        v=1, site=SITE, station=draw(stations), seq=draw(st.integers(0, 6)), boot_id=draw(boots),
        ts=draw(times), interval_s=draw(st.sampled_from([5.0, 15.0])),
        agent=wire.AgentInfo(version="0.1.0", uptime_s=1.0), components=comps, checks=[],
        unexpected=[],
    )


@st.composite
def status_msgs(draw: st.DrawFn) -> tuple[str, wire.Status]:
    return draw(stations), wire.Status(
        state=draw(st.sampled_from(["online", "offline", "lost"])), boot_id=draw(boots),
        session=draw(st.integers(0, 3)), ts=draw(st.none() | times),
    )


@st.composite
def events(draw: st.DrawFn) -> wire.Event:
    return wire.Event(
        v=1, site=SITE, station=draw(stations), boot_id=draw(boots), seq=draw(st.integers(0, 8)),
        ts=draw(times), component="c0", from_="ok", to=draw(statuses),
    )


garbage = st.tuples(
    st.sampled_from(["status", "heartbeat", "event"]),
    st.binary(max_size=64) | st.builds(
        lambda d: wire.encode(d), st.dictionaries(
            st.sampled_from(["v", "state", "boot_id", "session", "seq", "site", "station"]),
            st.integers(-2, 3) | st.text(max_size=4), max_size=7,
        )
    ),
)
steps = st.lists(
    st.one_of(
        heartbeats(), status_msgs(), events(), st.tuples(st.just("tick"), st.floats(0, 200)),
        garbage,
    ),
    max_size=40,
)


@dataclass
class Watch:
    versions: dict[str, int] = field(default_factory=dict)
    acks: dict[tuple[str, str], int] = field(default_factory=dict)
    generation: int = 0


def apply(fleet: Fleet, stats: IngestStats, step: object, now: float, watch: Watch) -> None:
    if isinstance(step, wire.Heartbeat):
        out = fleet.apply_heartbeat(step, now)
        stats.accept("heartbeat") if out.accepted else stats.reject(out.reason)
    elif isinstance(step, wire.Event):
        ev = fleet.apply_event(step, now)
        assert ev.accepted or ev.reason in REJECT_REASONS
        if ev.ack_seq is not None:
            key = (step.station, step.boot_id)
            assert ev.ack_seq >= watch.acks.get(key, -1), "ack went backwards"
            watch.acks[key] = ev.ack_seq
    elif isinstance(step, tuple) and isinstance(step[1], wire.Status):
        out = fleet.apply_status(SITE, step[0], step[1], now)
        assert out.accepted or out.reason in REJECT_REASONS
    elif isinstance(step, tuple) and step[0] == "tick":
        fleet.tick(now)
    else:
        assert isinstance(step, tuple)
        kind: wire.MessageKind = step[0]
        payload: bytes = step[1]
        try:
            _, msg = wire.decode_message(wire.topic_for(SITE, "st-a", kind), payload)
        except wire.Rejected as exc:
            stats.reject(exc.reason)
            return
        if isinstance(msg, wire.Status):
            fleet.apply_status(SITE, "st-a", msg, now)


def check_invariants(fleet: Fleet, watch: Watch) -> None:
    views = fleet.stations()
    ids = [v.station for v in views]
    assert len(ids) == len(set(ids)), "a station shown twice"
    assert "st-c" not in ids, "retired station shown"
    for v in views:
        assert v.state in STATION_STATES
        assert not v.up or v.state == "online"
        assert not v.ready or v.up
        assert v.version >= watch.versions.get(v.station, 0), "version went backwards"
        watch.versions[v.station] = v.version
    assert fleet.generation >= watch.generation
    watch.generation = fleet.generation
    sites = fleet.sites()
    assert sum(sum(s.stations.values()) for s in sites) == len(views)
    assert all(s.total + s.planned == sum(s.stations.values()) for s in sites)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.lists(st.floats(0.0, 30.0), min_size=40, max_size=40))
def test_random_sequences_keep_invariants(sequence: list[object], gaps: list[float]) -> None:
    fleet, stats, watch = Fleet(REGISTRY, now=T0), IngestStats(), Watch()
    warm = MetricsRenderer("t")
    now = T0
    for step, gap in zip(sequence, gaps, strict=False):
        now += gap
        apply(fleet, stats, step, now, watch)
        check_invariants(fleet, watch)
        warm.render(fleet, stats, None)
    # the cached renderer never serves text a fresh one would not produce
    assert warm.render(fleet, stats, None) == MetricsRenderer("t").render(fleet, stats, None)
    for transition in fleet.drain_transitions():
        assert transition.new in STATION_STATES and transition.old != transition.new
