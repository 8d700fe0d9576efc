"""The asset register: spells and install/removal/swap records, per change only."""

from __future__ import annotations

import pytest

from collector.assets import AssetChange, AssetRegister, DeviceId, Spell
from pantau import wire
from tests.collector.assets.parts import FUTRONIC, comp

A, B = DeviceId("080b", "0002", "A"), DeviceId("080b", "0002", "B")
F = DeviceId("1491", "0088", "F1")


def change(kind: str, at: float, new: DeviceId | None, old: DeviceId | None) -> AssetChange:
    return AssetChange("st-1", "site-a", "fingerprint", kind, at, new, old)  # type: ignore[arg-type]


# Each case: heartbeats as (ts, component) in order; the change records they make,
# and the spells as (serial, start, end) at the end.
CASES = {
    "first sight is an install at the status' since": (
        [(100, comp(since=50))], [change("install", 50, A, None)], [("A", 50, None)]),
    "the same unit again writes nothing": (
        [(100, comp(since=50)), (115, comp(since=50)), (130, comp(since=50))],
        [change("install", 50, A, None)], [("A", 50, None)]),
    "unplugged: a removal when it went missing": (
        [(100, comp(since=50)), (200, comp("missing", None, since=190))],
        [change("install", 50, A, None), change("removal", 190, None, A)], [("A", 50, 190)]),
    "another unit after a missing spell is a swap": (
        [(100, comp(since=50)), (200, comp("missing", None, since=190)),
         (300, comp(serial="B", since=290))],
        [change("install", 50, A, None), change("removal", 190, None, A),
         change("swap", 290, B, A)],
        [("A", 50, 190), ("B", 290, None)]),
    "the same unit back is a new spell, no change": (
        [(100, comp(since=50)), (200, comp("missing", None, since=190)),
         (300, comp(since=290))],
        [change("install", 50, A, None), change("removal", 190, None, A)],
        [("A", 50, 190), ("A", 290, None)]),
    "a swap while ok happens at the heartbeat that shows it": (
        [(100, comp(since=50)), (160, comp(serial="B", since=50))],
        [change("install", 50, A, None), change("swap", 160, B, A)],
        [("A", 50, 160), ("B", 160, None)]),
    "the probe could not look (unknown): no removal, the same unit after it is no change": (
        [(100, comp(since=50)), (200, comp("unknown", None, since=190)),
         (300, comp(since=290))],
        [change("install", 50, A, None)], [("A", 50, None)]),
    "another unit seen after an unknown spell is a swap": (
        [(100, comp(since=50)), (200, comp("unknown", None, since=190)),
         (210, comp("unknown", None, since=190)), (300, comp(serial="B", since=290))],
        [change("install", 50, A, None), change("swap", 290, B, A)],
        [("A", 50, 290), ("B", 290, None)]),
    "a failed part keeps its spell": (
        [(100, comp(since=50)), (200, comp("failed", since=190))],
        [change("install", 50, A, None)], [("A", 50, None)]),
    "a stand-in is a swap too, with its own spell": (
        [(100, comp(since=50)), (200, comp("missing", None, since=190)),
         (300, comp(serial="F1", model=FUTRONIC, standin=True, since=290))],
        [change("install", 50, A, None), change("removal", 190, None, A),
         change("swap", 290, F, A)],
        [("A", 50, 190), ("F1", 290, None)]),
}


@pytest.mark.parametrize(("beats", "changes", "spells"), CASES.values(), ids=CASES.keys())
def test_register(beats: list[tuple[float, wire.Component]], changes: list[AssetChange],
                  spells: list[tuple[str, float, float | None]]) -> None:
    register = AssetRegister()
    seen: list[AssetChange] = []
    started: list[Spell] = []
    ended: list[Spell] = []
    old = None
    for ts, c in beats:
        ops = register.observe("st-1", "site-a", old, (c,), ts)
        old = (c,)
        seen += ops.changes
        started += ops.started
        ended += ops.ended
    assert seen == changes
    ends = {(s.device.serial, s.start): s.end for s in ended}
    got = [(s.device.serial, s.start, ends.get((s.device.serial, s.start))) for s in started]
    assert got == spells


def test_last_real_device_skips_stand_ins() -> None:
    register = AssetRegister()
    first, standin = comp(since=50), comp(serial="F1", model=FUTRONIC, standin=True, since=50)
    register.observe("st-1", "site-a", None, (first,), 100)
    real = register.last_real("st-1", first)
    assert real is not None and real.device == A and real.name == "Cross Match Fingerprint Scanner"
    register.observe("st-1", "site-a", (first,), (standin,), 200)
    real = register.last_real("st-1", standin)
    assert real is not None and real.device == A  # the one the stand-in stands in for


def test_a_restored_register_writes_nothing_for_what_it_already_holds() -> None:
    first = AssetRegister()
    spell = first.observe("st-1", "site-a", None, (comp(since=50),), 100).started[0]
    again = AssetRegister()
    again.restore([spell], {("st-1", "fingerprint"): spell})
    assert not again.observe("st-1", "site-a", None, (comp(since=50),), 400)  # retained
    ops = again.observe("st-1", "site-a", (comp(since=50),),
                        (comp(serial="B", since=50),), 500)
    assert ops.changes == [AssetChange("st-1", "site-a", "fingerprint", "swap", 500, B, A)]


def test_after_a_restart_a_part_missing_then_back_as_another_unit_is_a_swap() -> None:
    first = AssetRegister()
    spell = first.observe("st-1", "site-a", None, (comp(since=50),), 100).started[0]
    again = AssetRegister()  # the store: the spell ended, the last real device A
    again.restore([], {("st-1", "fingerprint"): spell})
    missing = comp("missing", None, since=300)
    assert not again.observe("st-1", "site-a", None, (missing,), 310).changes
    ops = again.observe("st-1", "site-a", (missing,),
                        (comp(serial="B", since=400),), 400)
    assert ops.changes == [AssetChange("st-1", "site-a", "fingerprint", "swap", 400, B, A)]


def test_a_station_moved_to_another_site_keeps_its_spells() -> None:
    register = AssetRegister()
    register.observe("st-1", "site-a", None, (comp(since=50),), 100)
    assert not register.observe("st-1", "site-b", (comp(since=50),), (comp(since=50),), 200)
    ops = register.observe("st-1", "site-b", (comp(since=50),), (comp(serial="B", since=50),),
                           300)
    assert [(s.site, s.start) for s in ops.started] == [("site-b", 300)]


def test_memory_is_per_fault_not_per_station() -> None:
    register = AssetRegister()
    for n in range(100):
        register.observe(f"st-{n}", "site-a", None, (comp(since=50),), 100)
    assert (register._away, register._gone, register._stored) == ({}, {}, {})
