"""The asset database: batches written on the writer thread, read back, pruned."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from collector.assets import AssetChange, DeviceId, Spell
from collector.readiness import ReadinessRow
from collector.repairs import Model, Repair
from collector.store_assets import AssetBatch, AssetStore, RepairEdit
from collector.store_assets_read import AssetReader

A = DeviceId("080b", "0002", "A")
B = DeviceId("080b", "0002", "B")
MODEL = Model("080b", "0002", "Cross Match Fingerprint Scanner", True)
DAY = 86400.0


def spell(device: DeviceId, start: float, end: float | None = None, *,
          station: str = "st-1", standin: bool = False) -> Spell:
    return Spell(station, "a", "fingerprint", device, "Cross Match", "Fingerprint Scanner",
                 standin, start, end)


def repair(rid: str, opened: float, closed: float | None = None) -> Repair:
    return Repair(rid, "st-1", "a", "fingerprint", 1, MODEL, "A", opened,
                  "ok" if closed else "missing", closed_at=closed,
                  outcome="replaced" if closed else None, listed=True)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AssetStore]:
    s = AssetStore(tmp_path, retention_days=10)
    await s.open()
    yield s
    await s.close()


async def test_spells_make_assets_and_serial_history(store: AssetStore) -> None:
    await store.write(AssetBatch(spells=[spell(A, 100.0)],
                                 changes=[AssetChange("st-1", "a", "fingerprint", "install",
                                                      100.0, A, None)]))
    await store.write(AssetBatch(spells=[spell(A, 100.0, 200.0), spell(B, 300.0)],
                                 changes=[AssetChange("st-1", "a", "fingerprint", "swap", 300.0,
                                                      B, A)]))
    await store.write(AssetBatch(spells=[spell(A, 400.0, station="st-2")]))
    reader = AssetReader(store.path)
    rows = {(r.station, r.device.serial): r for r in reader.assets()}
    assert (rows[("st-1", "A")].present, rows[("st-1", "A")].first_seen,
            rows[("st-1", "A")].last_seen) == (False, 100.0, 200.0)
    assert (rows[("st-1", "B")].present, rows[("st-1", "B")].first_seen) == (True, 300.0)
    assert [r.station for r in reader.assets(station="st-2")] == ["st-2"]
    assert [(s.station, s.start, s.end) for s in reader.serial_history("A")] == [
        ("st-1", 100.0, 200.0), ("st-2", 400.0, None)]
    assert [(c.kind, c.device, c.old) for c in reader.changes("st-1")] == [
        ("swap", B, A), ("install", A, None)]
    state = reader.state()
    assert sorted((s.station, s.device.serial) for s in state.present) == [
        ("st-1", "B"), ("st-2", "A")]
    assert state.last_real[("st-1", "fingerprint")].device == B


async def test_people_edit_only_their_fields_and_the_tracker_only_its_own(
        store: AssetStore) -> None:
    await store.write(AssetBatch(repairs=[repair("r1", 100.0)]))
    assert await store.update_repair("r1", RepairEdit(ordered_at=150.0, ticket="INC-1"),
                                     "budi", 160.0)
    assert not await store.update_repair("nope", RepairEdit(note="x"), "budi", 160.0)
    await store.write(AssetBatch(repairs=[repair("r1", 100.0, 900.0)]))  # the tracker closes it
    got = AssetReader(store.path).repair("r1")
    assert got is not None
    assert (got.ordered_at, got.ticket, got.note, got.closed_at, got.outcome, got.status) == (
        150.0, "INC-1", "", 900.0, "replaced", "ok")
    reader = AssetReader(store.path)
    assert [r.id for r in reader.repairs(state="closed")] == ["r1"]
    assert reader.repairs(state="open") == []


async def test_retention_keeps_open_repairs_present_assets_and_each_last_readiness(
        store: AssetStore) -> None:
    now = 100 * DAY  # retention 10 days: everything that ended before day 90 goes
    await store.write(AssetBatch(
        spells=[spell(A, 1.0), spell(B, 2.0, station="st-2")],
        repairs=[repair("old-open", 1.0), repair("old-closed", 1.0, 2.0),
                 repair("new-closed", 1.0, 95 * DAY)],
        readiness=[ReadinessRow("st-1", "a", "ready", 1.0), ReadinessRow("st-1", "a", "down", 2.0),
                   ReadinessRow("st-1", "a", "ready", 95 * DAY)]))
    await store.write(AssetBatch(spells=[spell(B, 2.0, 3.0, station="st-2")]))
    assert await store.prune(now) == 3  # B's spell, old-closed, st-1's first readiness row
    reader = AssetReader(store.path)
    assert [(r.device.serial, r.present) for r in reader.assets()] == [("A", True)]
    assert sorted(r.id for r in reader.repairs()) == ["new-closed", "old-open"]
    window = reader.window(90 * DAY, now)
    assert [(r.readiness, r.at) for r in window.readiness] == [("down", 2.0), ("ready", 95 * DAY)]
