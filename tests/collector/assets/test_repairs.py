"""Repair records from a role's components over time: open, list, close, outcomes.

Each case is a script of heartbeats `(ts, now, component)` and ticks `now`
(the collector's clock, for `min_open_s`), and the records the store holds at
the end, projected to (unit, status, opened_at, closed_at, outcome, model).
"""

from __future__ import annotations

from typing import Any

import pytest

from collector.assets import AssetRegister
from collector.repairs import Model, Repair, RepairOps, RepairTracker, repair_id
from tests.collector.assets.parts import FUTRONIC, comp

SEEN = Model("080b", "0002", "Cross Match Fingerprint Scanner", True)
EXPECTED = Model("080b", "0002", "Cross Match Fingerprint Scanner", False)
Step = tuple[float, float, Any] | float


def run(script: list[Step], min_open_s: float = 120.0) -> dict[str, Repair]:
    register, tracker = AssetRegister(), RepairTracker(min_open_s)
    stored: dict[str, Repair] = {}

    def apply(ops: RepairOps) -> None:
        stored.update({r.id: r for r in ops.upserts})
        for gone in ops.deletes:
            del stored[gone]

    old = None
    for step in script:
        if isinstance(step, float | int):
            apply(tracker.tick(step))
            continue
        ts, now, c = step
        register.observe("st-1", "site-a", old, (c,), ts)
        apply(tracker.observe("st-1", "site-a", old, (c,), ts, now,
                              lambda part: register.last_real("st-1", part)))
        old = (c,)
    return stored


def view(stored: dict[str, Repair]) -> list[tuple[object, ...]]:
    return sorted((r.unit, r.status, r.opened_at, r.closed_at, r.outcome, r.model)
                  for r in stored.values())


CASES: dict[str, tuple[list[Step], list[tuple[object, ...]]]] = {
    "the same unit back: restored": (
        [(100, 100, comp(since=50)), (200, 200, comp("missing", None, since=190)), 330,
         (900, 900, comp(since=890))],
        [(1, "ok", 190, 890, "restored", SEEN)]),
    "another serial back: replaced": (
        [(100, 100, comp(since=50)), (200, 200, comp("missing", None, since=190)),
         (900, 900, comp(serial="B", since=890))],
        [(1, "ok", 190, 890, "replaced", SEEN)]),
    "a device without a serial back: unknown": (
        [(100, 100, comp(since=50)), (200, 200, comp("missing", None, since=190)),
         (900, 900, comp(serial="", since=890))],
        [(1, "ok", 190, 890, "unknown", SEEN)]),
    "back within min_open_s: never a repair": (
        [(100, 100, comp(since=50)), (200, 200, comp("missing", None, since=190)), 250,
         (300, 300, comp(since=300)), 1000],
        []),
    "still missing after min_open_s: listed open": (
        [(100, 100, comp(since=50)), (200, 200, comp("missing", None, since=190)), 319.0],
        []),
    "listed once open min_open_s on this collector's clock": (
        [(100, 100, comp(since=50)), (200, 200, comp("missing", None, since=190)), 320.0],
        [(1, "missing", 190, None, None, SEEN)]),
    "a stand-in keeps it open, the scanner back closes it": (
        [(100, 100, comp(since=50)), (200, 200, comp("missing", None, since=190)),
         (300, 300, comp(serial="F1", model=FUTRONIC, standin=True, since=295)), 400,
         (900, 900, comp(serial="B", since=295))],
        [(1, "ok", 190, 900, "replaced", SEEN)]),
    "on a stand-in: open with status standin": (
        [(100, 100, comp(since=50)), (200, 200, comp("missing", None, since=190)),
         (300, 300, comp(serial="F1", model=FUTRONIC, standin=True, since=295)), 400],
        [(1, "standin", 190, None, None, SEEN)]),
    "found on a stand-in at first sight: open since then": (
        [(100, 100, comp(serial="F1", model=FUTRONIC, standin=True, since=50)), 300],
        [(1, "standin", 50, None, None, EXPECTED)]),
    "failed: the failing unit is the model, back healthy is restored": (
        [(100, 100, comp(since=50)), (200, 200, comp("failed", since=190)), 400,
         (900, 900, comp(since=890))],
        [(1, "ok", 190, 890, "restored", SEEN)]),
    "failed then missing is one repair": (
        [(100, 100, comp(since=50)), (200, 200, comp("failed", since=190)),
         (300, 300, comp("missing", None, since=290)), 400],
        [(1, "missing", 190, None, None, SEEN)]),
    "missing since install: the expected model, any unit back is replaced": (
        [(100, 100, comp("missing", None, since=50)), 300, (900, 900, comp(since=890))],
        [(1, "ok", 50, 890, "replaced", EXPECTED)]),
    "an optional part is never a repair": (
        [(100, 100, comp(since=50, required=False)),
         (200, 200, comp("missing", None, since=190, required=False)), 1000],
        []),
    "unknown (the probe could not look) changes nothing": (
        [(100, 100, comp(since=50)), (200, 200, comp("missing", None, since=190)), 400,
         (500, 500, comp("unknown", None, since=490))],
        [(1, "missing", 190, None, None, SEEN)]),
    "two units missing: two records; one back closes the newer as unknown": (
        [(100, 100, comp(since=50)), (200, 200, comp("missing", "A", since=190, units=1)),
         (300, 300, comp("missing", "A", since=190, units=2)), 500,
         (600, 600, comp("missing", "A", since=190, units=1)), 700,
         (900, 900, comp(since=890))],
        [(1, "ok", 190, 890, "restored", SEEN), (2, "ok", 300, 600, "unknown", SEEN)]),
}


@pytest.mark.parametrize(("script", "records"), CASES.values(), ids=CASES.keys())
def test_repairs(script: list[Step], records: list[tuple[object, ...]]) -> None:
    assert view(run(script)) == records


def test_ids_come_from_station_role_and_opened_at_so_replicas_agree() -> None:
    script: list[Step] = [(100, 100, comp(since=50)),
                          (200, 200, comp("missing", None, since=190.25)), 1000]
    one, other = run(script), run([(100, 150, comp(since=50)),
                                   (200, 260, comp("missing", None, since=190.25)), 2000])
    assert list(one) == list(other) == [repair_id("st-1", "fingerprint", 190.25)]
    assert repair_id("st-1", "fingerprint", 190.25, 2) != repair_id("st-1", "fingerprint", 190.25)
    assert len(repair_id("a", "b", 1.0)) == 16


def test_a_record_this_collector_saw_late_is_dropped_if_it_was_a_blip() -> None:
    # Listed (open min_open_s here), then the station says it was back 60 s after going.
    stored = run([(100, 100, comp(since=50)), (200, 200, comp("missing", None, since=190)),
                  400, (500, 500, comp(since=250))])
    assert stored == {}
