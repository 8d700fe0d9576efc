"""The feed: fleet changes (every intermediate component set) to records in the asset store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from collector.asset_feed import AssetFeed
from collector.fleet import Fleet
from collector.registry import Registry
from collector.store_assets import AssetStore
from collector.store_assets_read import AssetReader
from tests.collector.http.scenario import component, feed, heartbeat

SITE, STATION = "medan-baru", "medan-baru-01"
T0 = 1_700_000_000.0  # wire times lie in [2000, 2100): the tests count from here


def beat(fleet: Fleet, seq: int, ts: float, *components: dict[str, object]) -> None:
    feed(fleet, "heartbeat", SITE, STATION, heartbeat(SITE, STATION, seq, ts, list(components)),
         ts)


@pytest.fixture
async def asset_feed(tmp_path: Path) -> AsyncIterator[AssetFeed]:
    store = AssetStore(tmp_path)
    await store.open()
    yield AssetFeed(store, min_open_s=60)
    await store.close()


async def test_every_component_set_between_two_steps_is_seen(asset_feed: AssetFeed) -> None:
    fleet = Fleet(Registry.empty(), now=T0)
    beat(fleet, 1, T0 + 100.0, component("fingerprint", since=T0 + 90.0))
    beat(fleet, 2, T0 + 110.0, component("fingerprint", "missing", since=T0 + 110.0))
    beat(fleet, 3, T0 + 115.0,
         component("fingerprint", "missing", since=T0 + 110.0))  # no change
    asset_feed.step(fleet, T0 + 120.0, ready=False)
    assert fleet.drain_part_changes() == []
    asset_feed.step(fleet, T0 + 200.0, ready=False)  # open 80 s here: listed
    assert await asset_feed.flush()
    reader = AssetReader(asset_feed.store.path)
    # The scanner was seen before it went, though both came within one step.
    assert [(a.device.serial, a.present) for a in reader.assets()] == [("SN-fingerprint", False)]
    assert [(r.status, r.model.vid, r.opened_at) for r in reader.repairs(state="open")] == [
        ("missing", "05ba", T0 + 110.0)]
    assert reader.window(0.0, 1e10).readiness == []  # not ready: no readiness written yet


async def test_readiness_is_written_once_ready_and_then_per_change(asset_feed: AssetFeed) -> None:
    fleet = Fleet(Registry.empty(), now=T0)
    beat(fleet, 1, T0 + 100.0, component("fingerprint", since=T0 + 90.0))
    asset_feed.step(fleet, T0 + 101.0, ready=True)  # the first ready step: a full pass
    beat(fleet, 2, T0 + 102.0, component("fingerprint", since=T0 + 90.0))  # nothing moved
    asset_feed.step(fleet, T0 + 103.0, ready=True)
    beat(fleet, 3, T0 + 104.0, component("fingerprint", "missing", since=T0 + 104.0))
    asset_feed.step(fleet, T0 + 105.0, ready=True)
    assert await asset_feed.flush()
    rows = AssetReader(asset_feed.store.path).window(0.0, 1e10).readiness
    assert [(r.station, r.readiness, r.at) for r in rows] == [
        (STATION, "ready", T0 + 101.0), (STATION, "down", T0 + 105.0)]


async def test_a_burst_of_new_stations_is_digested_a_slice_per_step(asset_feed: AssetFeed) -> None:
    fleet = Fleet(Registry.empty(), now=T0)
    for n in range(1200):  # a collector start: every station's first heartbeat at once
        station = f"st-{n:04d}"
        feed(fleet, "heartbeat", SITE, station,
             heartbeat(SITE, station, 1, T0 + 100.0, [component("fingerprint", since=T0 + 90.0)]),
             T0 + 100.0)
    backlogs = []
    for step in range(4):
        asset_feed.step(fleet, T0 + 101.0 + step, ready=False)
        backlogs.append(asset_feed.backlog)
    assert backlogs == [700, 200, 0, 0]
    assert await asset_feed.flush()
    assert len(AssetReader(asset_feed.store.path).assets()) == 1200


async def test_an_asset_database_that_cannot_open_holds_changes_until_it_can(
        tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data dir should be")
    feed_ = AssetFeed(AssetStore(blocker), min_open_s=60)
    assert not await feed_.open()
    fleet = Fleet(Registry.empty(), now=T0)
    beat(fleet, 1, T0 + 100.0, component("fingerprint", since=T0 + 90.0))
    feed_.step(fleet, T0 + 101.0, ready=True)
    assert (feed_.backlog, feed_.pending) == (1, 0)  # held, not digested
    assert not await feed_.flush()
    blocker.unlink()  # the operator fixes data_dir
    assert await feed_.open()
    feed_.step(fleet, T0 + 102.0, ready=True)
    assert await feed_.flush()
    assert [a.device.serial for a in AssetReader(feed_.store.path).assets()] == ["SN-fingerprint"]
    await feed_.store.close()
