"""Readiness rows: one per change of a station's readiness, never per heartbeat."""

from __future__ import annotations

from collector.readiness import ReadinessRow, ReadinessTracker, readiness_of
from collector.station import StationState, StationView
from pantau import wire


def station(state: StationState, ok: bool = True, site: str = "a") -> StationView:
    view = StationView("st-1", site, None, state, 0.0)
    view.last_heartbeat_ts = 1.0
    view.components_ok = ok
    view.components = (wire.Component(id="x", kind="usb", required=True,
                                      status="ok" if ok else "missing", since=0.0),)
    return view


def test_readiness_of_each_kind_of_station() -> None:
    assert readiness_of(station("online")) == "ready"
    assert readiness_of(station("online", ok=False)) == "down"
    assert [readiness_of(station(s)) for s in ("offline", "lost", "stale", "never_seen")] == [
        "down"] * 4
    assert readiness_of(station("planned")) == "excluded"
    assert readiness_of(None) == "excluded"  # retired or removed


def test_a_row_only_when_readiness_moves() -> None:
    tracker, views = ReadinessTracker(), {"st-1": station("online")}
    assert tracker.update(["st-1"], views.get, 10.0) == [ReadinessRow("st-1", "a", "ready", 10.0)]
    assert tracker.update(["st-1"], views.get, 11.0) == []
    views["st-1"] = station("lost")
    assert tracker.update(["st-1"], views.get, 12.0) == [ReadinessRow("st-1", "a", "down", 12.0)]
    views["st-1"] = station("lost", site="b")  # moved to another site: a row for the new one
    assert tracker.update(["st-1"], views.get, 13.0) == [ReadinessRow("st-1", "b", "down", 13.0)]
    del views["st-1"]
    assert tracker.update(["st-1"], views.get, 14.0) == [
        ReadinessRow("st-1", "b", "excluded", 14.0)]
    assert tracker.update(["nobody"], views.get, 15.0) == []


def test_a_full_pass_covers_stations_the_history_knows_but_the_fleet_lost() -> None:
    tracker = ReadinessTracker()
    tracker.restore({"gone": ("a", "ready"), "st-1": ("a", "ready")})
    views = {"st-1": station("online")}
    assert tracker.everything(views, views.get, 20.0) == [
        ReadinessRow("gone", "a", "excluded", 20.0)]
