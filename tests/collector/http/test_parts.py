"""The parts list and per-site rollup, on their own (pure functions)."""

from __future__ import annotations

import csv
import io

import msgspec
import pytest

from collector.parts import (
    CSV_COLUMNS,
    OrderInfo,
    PartIssue,
    part_issues,
    parts_csv,
    site_rollup,
    station_problems,
)
from collector.site_rollup import SiteView
from collector.station import StationState, StationView
from pantau.wire import Component


def Station(station: str, site: str, state: StationState,
            components: tuple[Component, ...]) -> StationView:
    view = StationView(station, site, None, state, 0.0)
    view.components = components
    return view


def Site(site: str, name: str, region: str) -> SiteView:
    return SiteView(site, name, region, registered=True, stations={}, ready=0, total=0,
                    planned=0)


def comp(cid: str, status: str, required: bool = True, detail: str = "",
         standin: bool = False) -> Component:
    return Component(id=cid, kind="usb", required=required, status=status,  # type: ignore[arg-type]
                     since=1000.0, detail=detail, standin=True if standin else msgspec.UNSET)


SITES = (Site("a", "Alpha", "R1"), Site("b", "Beta", "R1"), Site("z", "Zeta", "R0"))


@pytest.mark.parametrize(
    ("status", "required", "is_problem", "is_part"),
    [
        ("ok", True, False, False),
        ("standin", True, False, True),  # enrolling on a stand-in: the part is still away
        ("standin", False, False, False),
        ("missing", True, True, True),
        ("failed", True, True, True),
        ("unknown", True, True, False),  # the probe could not look: nothing to order
        ("missing", False, False, False),  # optional parts are never ordered
        ("failed", False, False, False),
    ],
)
def test_which_components_count(status: str, required: bool, is_problem: bool,
                                is_part: bool) -> None:
    c = comp("camera", "ok" if status == "standin" else status, required,
             standin=status == "standin")
    assert (station_problems([c]) == [c]) is is_problem
    issues = part_issues([Station("s1", "a", "online", (c,))])
    assert bool(issues) is is_part
    assert [i.status for i in issues] == ([status] if is_part else [])


def test_issues_sorted_and_keep_station_state() -> None:
    stations = [
        Station("b-01", "b", "lost", (comp("iris", "failed"),)),
        Station("a-02", "a", "online", (comp("fingerprint", "missing"), comp("camera", "ok"))),
        Station("a-01", "a", "online", (comp("iris", "missing"), comp("camera", "failed"))),
    ]
    got = [(i.station, i.role, i.status, i.station_state) for i in part_issues(stations)]
    assert got == [
        ("a-01", "camera", "failed", "online"),
        ("a-01", "iris", "missing", "online"),
        ("a-02", "fingerprint", "missing", "online"),
        ("b-01", "iris", "failed", "lost"),  # last known, flagged by the station's state
    ]


def issue(site: str, station: str, role: str, status: str) -> PartIssue:
    return PartIssue(site, station, "online", role, "usb", status, 1000.0, "")


def test_rollup_counts_per_site_per_role_and_lists_clean_sites() -> None:
    issues = [
        issue("a", "a-01", "iris", "missing"), issue("a", "a-02", "iris", "failed"),
        issue("a", "a-02", "camera", "missing"), issue("q", "q-01", "iris", "missing"),
    ]
    rollup = {r.site: r for r in site_rollup(issues, SITES)}
    assert rollup["a"].roles == {"iris": {"missing": 1, "failed": 1, "standin": 0},
                                 "camera": {"missing": 1, "failed": 0, "standin": 0}}
    assert rollup["a"].total == 3
    assert rollup["b"].roles == {} and rollup["b"].total == 0
    # A site the registry does not know is still counted, named by its id, listed last.
    assert (rollup["q"].name, rollup["q"].total) == ("q", 1)
    assert [r.site for r in site_rollup(issues, SITES)] == ["z", "a", "b", "q"]


def test_csv_round_trips_and_neutralises_formulas() -> None:
    issues = [
        PartIssue("a", "a-01", "online", "iris", "usb", "failed", 1732900000.0,
                  '=HYPERLINK("http://evil") , "quoted"\nsecond line'),
        PartIssue("q", "q-01", "stale", "camera", "usb", "missing", 0.0, "plain"),
    ]
    rows = list(csv.DictReader(io.StringIO(parts_csv(issues, SITES))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[0]["site_name"] == "Alpha" and rows[0]["region"] == "R1"
    assert rows[0]["since"] == "2024-11-29T17:06:40Z"
    assert float(rows[0]["since_ts"]) == 1732900000.0
    assert rows[0]["detail"] == '\'=HYPERLINK("http://evil") , "quoted"\nsecond line'
    assert (rows[1]["site_name"], rows[1]["station_state"], rows[1]["detail"]) == (
        "q", "stale", "plain")


def test_order_info_fills_model_open_for_and_ordered_at() -> None:
    info = OrderInfo("080b:0002 Cross Match Fingerprint Scanner", opened_at=400.0,
                     ordered_at=1732900000.0)
    stations = [Station("a-01", "a", "online", (comp("fingerprint", "missing"),
                                                comp("camera", "ok")))]
    seen: list[tuple[str, str]] = []

    def lookup(view: StationView, c: Component) -> OrderInfo:
        seen.append((view.station, c.id))
        return info

    issues = part_issues(stations, lookup)
    assert seen == [("a-01", "fingerprint")]  # asked only for the parts to order
    assert issues[0].open_for_s(1000.0) == 600.0  # since the repair opened, not since 1000
    row = next(csv.DictReader(io.StringIO(parts_csv(issues, SITES, at=1000.0))))
    assert (row["model_to_order"], row["open_for_s"], row["ordered_at"], row["ordered_at_ts"]) == (
        "080b:0002 Cross Match Fingerprint Scanner", "600", "2024-11-29T17:06:40Z",
        "1732900000.000")
    # Without a record: away since the status began; nothing ordered.
    bare = part_issues(stations)[0]
    assert (bare.order, bare.open_for_s(1000.0)) == (OrderInfo(), 0.0)


def test_csv_without_issues_is_just_the_header() -> None:
    assert list(csv.reader(io.StringIO(parts_csv([], SITES)))) == [list(CSV_COLUMNS)]
