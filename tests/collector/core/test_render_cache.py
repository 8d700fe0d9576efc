"""The /metrics column cache never serves stale text, whatever changed since the last scrape.

Each case applies one kind of change to a small fleet that a renderer has
already rendered (so its columns are warm), then compares the next render
byte for byte with a brand-new renderer's output, and checks the change shows.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from collector.exposition import MetricsRenderer
from collector.fleet import Fleet
from collector.registry import Registry, SiteInfo, StationEntry
from collector.stats import IngestStats
from pantau import wire
from tests.collector.core.messages import SITE, T0, component, heartbeat, host, status

OTHER = "medan-kota"


def registry(*, with_st3: bool = False) -> Registry:
    stations = {
        "st-01": StationEntry("st-01", SITE, "ektp", "active"),
        "st-02": StationEntry("st-02", SITE, "ektp", "active"),
    }
    if with_st3:
        stations["st-03"] = StationEntry("st-03", OTHER, "ektp", "active")
    sites = {SITE: SiteInfo(SITE, "Medan Baru", "Kota Medan"),
             OTHER: SiteInfo(OTHER, "Medan Kota", "Kota Medan")}
    return Registry(sites, stations)


def beat(station: str, seq: int, *, site: str = SITE, cpu: float = 0.25,
         comps: list[wire.Component] | None = None,
         checks: list[wire.Check] | None = None) -> wire.Heartbeat:
    return heartbeat(station, seq=seq, ts=T0 + 1000.0 + seq, site=site, host_info=host(cpu=cpu),
                     components=comps, checks=checks)


def warm_fleet() -> Fleet:
    fleet = Fleet(registry(), now=T0 + 1000.0)
    for station in ("st-01", "st-02"):
        fleet.apply_heartbeat(beat(station, 1), T0 + 1001.0)
    fleet.apply_heartbeat(beat("stray-9", 1, site="lain"), T0 + 1001.0)
    return fleet


Change = Callable[[Fleet], object]
CASES: list[tuple[str, Change, bytes]] = [
    ("timestamp only", lambda f: f.apply_heartbeat(beat("st-01", 2), T0 + 1002.0),
     b'pantau_station_last_heartbeat_timestamp_seconds{site="medan-baru",station="st-01"} '
     b'1700001002.0'),
    ("host figures only", lambda f: f.apply_heartbeat(beat("st-01", 2, cpu=0.75), T0 + 1002.0),
     b'pantau_host_cpu_ratio{site="medan-baru",station="st-01"} 0.75'),
    ("a component went missing",
     lambda f: f.apply_heartbeat(beat("st-02", 2, comps=[component("fingerprint", "missing")]),
                                 T0 + 1002.0),
     b'pantau_component_up{site="medan-baru",station="st-02",component="fingerprint"} 0'),
    ("a check appeared",
     lambda f: f.apply_heartbeat(beat("st-02", 2, checks=[
         wire.Check(id="dns", kind="tcp", status="ok", latency_s=0.5)]), T0 + 1002.0),
     b'pantau_check_latency_seconds{site="medan-baru",station="st-02",check="dns"} 0.5'),
    ("state changed", lambda f: f.apply_status(SITE, "st-01", status("lost", station="st-01"),
                                               T0 + 1002.0),
     b'pantau_station_state{site="medan-baru",station="st-01",state="lost"} 1'),
    ("a new station sorts in between",
     lambda f: f.apply_heartbeat(beat("st-015", 1), T0 + 1002.0),
     b'pantau_station_up{site="medan-baru",station="st-015"} 1'),
    ("an unregistered station moved site",
     lambda f: f.apply_heartbeat(beat("stray-9", 2, site="lainnya"), T0 + 1002.0),
     b'pantau_station_up{site="lainnya",station="stray-9"} 1'),
    ("registry reload adds a never-seen station",
     lambda f: f.set_registry(registry(with_st3=True), T0 + 1002.0),
     b'pantau_station_state{site="medan-kota",station="st-03",state="never_seen"} 1'),
    ("registry reload removes a registered station that reported",
     lambda f: f.set_registry(Registry(registry().sites, {}), T0 + 1002.0),
     b'station="st-01",hostname="pc-01",agent_version="0.1.0",profile=""} 1'),
    ("registry reload adds a site without stations",
     lambda f: f.set_registry(Registry({**registry().sites, "baru": SiteInfo("baru", "B", "R")},
                                       registry().stations), T0 + 1002.0),
     b'pantau_site_stations{site="baru",state="online"} 0'),
    ("a component went missing: the site has one station ready less",
     lambda f: f.apply_heartbeat(beat("st-01", 2, comps=[component("fingerprint", "failed")]),
                                 T0 + 1002.0),
     b'pantau_site_stations_ready{site="medan-baru"} 1\n'),
    ("many stations tick stale", lambda f: f.tick(T0 + 2000.0),
     b'pantau_station_state{site="medan-baru",station="st-02",state="stale"} 1'),
    # The heartbeat cases below move cached lines along with the live figures: the
    # renderer must not take them for a live-only heartbeat (StationView.shape_version).
    ("the host was renamed",
     lambda f: f.apply_heartbeat(heartbeat("st-01", seq=2, ts=T0 + 1002.0,
                                           host_info=host("pc-01b")), T0 + 1002.0),
     b'station="st-01",hostname="pc-01b",'),
    ("the agent was upgraded",
     lambda f: f.apply_heartbeat(heartbeat("st-01", seq=2, ts=T0 + 1002.0, version="0.2.0",
                                           host_info=host()), T0 + 1002.0),
     b'agent_version="0.2.0"'),
    ("an unexpected device was plugged in",
     lambda f: f.apply_heartbeat(heartbeat("st-01", seq=2, ts=T0 + 1002.0, host_info=host(),
                                           unexpected=[wire.UnexpectedDevice(vid="abcd",
                                                                              pid="0001")]),
                                 T0 + 1002.0),
     b'pantau_station_unexpected_devices{site="medan-baru",station="st-01"} 1'),
]


@pytest.mark.parametrize(("change", "expect"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_warm_render_equals_a_fresh_render(change: Change, expect: bytes) -> None:
    fleet, stats = warm_fleet(), IngestStats()
    renderer = MetricsRenderer("t")
    before = renderer.render(fleet, stats, None)
    change(fleet)
    warm = renderer.render(fleet, stats, None)
    assert warm == MetricsRenderer("t").render(fleet, stats, None)
    assert expect in warm and expect not in before


def test_a_station_that_left_leaves_no_lines() -> None:
    fleet, stats = warm_fleet(), IngestStats()
    renderer = MetricsRenderer("t")
    assert b'station="st-02"' in renderer.render(fleet, stats, None)
    retired = {**registry().stations, "st-02": StationEntry("st-02", SITE, "ektp", "retired")}
    fleet.set_registry(Registry(registry().sites, retired), T0 + 1002.0)
    warm = renderer.render(fleet, stats, None)
    assert b'station="st-02"' not in warm
    assert warm == MetricsRenderer("t").render(fleet, stats, None)


def test_changes_across_several_scrapes_stay_exact() -> None:
    fleet, stats = warm_fleet(), IngestStats()
    renderer = MetricsRenderer("t")
    for _, change, _ in CASES:
        renderer.render(fleet, stats, None)
        change(fleet)
        assert renderer.render(fleet, stats, None) == MetricsRenderer("t").render(
            fleet, stats, None
        )


def test_a_heartbeat_that_revives_a_stale_station_renders_its_state() -> None:
    fleet, stats = warm_fleet(), IngestStats()
    renderer = MetricsRenderer("t")
    fleet.tick(T0 + 2000.0)
    assert b'station="st-01",state="stale"} 1' in renderer.render(fleet, stats, None)
    fleet.apply_heartbeat(beat("st-01", 2), T0 + 2001.0)
    warm = renderer.render(fleet, stats, None)
    assert b'station="st-01",state="online"} 1' in warm
    assert warm == MetricsRenderer("t").render(fleet, stats, None)
