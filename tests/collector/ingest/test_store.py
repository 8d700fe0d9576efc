"""SQLite history and the write buffer: de-dup, paging, retention, acks only after commit."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from collector.history import History
from collector.store import Store, StoreError
from pantau import wire


def event(seq: int, station: str = "st-1", boot: str = "b1", ts: float = 100.0) -> wire.Event:
    return wire.Event(v=1, site="s1", station=station, boot_id=boot, seq=seq, ts=ts,
                          component="iris", from_="ok", to="missing", detail="gone")


@dataclass(frozen=True)
class T:
    station: str
    site: str
    old: str | None
    new: str
    at: float
    reason: str


@pytest.fixture
async def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = Store(tmp_path / "data", retention_days=1.0)
    await s.open()
    yield s
    await s.close()


async def test_duplicate_events_are_stored_once(store: Store) -> None:
    history = History(store)
    for seq in (0, 1, 1, 0, 2):
        history.add_event(event(seq), received=200.0)
    assert await history.flush(lambda *a: None)
    assert [e.seq for e in store.events()] == [2, 1, 0]
    assert store.event_marks() == {("st-1", "b1"): 2}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, [4, 3, 2, 1, 0]),
        ({"limit": 2}, [4, 3]),
        ({"before_id": 3, "limit": 2}, [1, 0]),  # ids are 1-based: id 3 holds seq 2
        ({"since": 102.0}, [4, 3, 2]),
        ({"station": "other"}, []),
        ({"site": "s1", "limit": 1}, [4]),
    ],
)
async def test_events_are_paged_newest_first(
    store: Store, query: dict[str, object], expected: list[int]
) -> None:
    rows = [(e.station, e.site, e.boot_id, e.seq, e.ts, 1.0, e.component, e.from_, e.to, e.detail)
            for e in (event(s, ts=100.0 + s) for s in range(5))]
    await store.write(rows, [])
    assert [e.seq for e in store.events(**query)] == expected  # type: ignore[arg-type]


async def test_recent_events_are_a_stations_newest_oldest_first(store: Store) -> None:
    history = History(store)
    for seq in range(1, 31):  # interleaved with another station's, as they arrive
        history.add_event(event(seq), received=200.0)
        history.add_event(event(seq, station="st-2"), received=200.0)
    history.add_event(event(30), received=201.0)  # a duplicate is not shown twice
    assert await history.flush(lambda *a: None)
    assert [e.seq for e in store.recent_events("st-1", 20)] == list(range(11, 31))
    assert {e.station for e in store.recent_events("st-1", 20)} == {"st-1"}
    assert store.recent_events("nobody", 20) == []


async def test_recent_events_use_the_station_index(store: Store) -> None:
    with closing(sqlite3.connect(store.path)) as conn:  # the query Store.events runs
        plan = conn.execute("EXPLAIN QUERY PLAN SELECT * FROM events WHERE station = ? "
                            "ORDER BY id DESC LIMIT ?", ["st-1", 20]).fetchall()
    assert "USING INDEX events_station" in " ".join(str(row[-1]) for row in plan)


async def test_transitions_are_stored_and_pruned_by_retention(store: Store) -> None:
    await store.write([], [T("st-1", "s1", None, "online", 10.0, "birth"),
                           T("st-1", "s1", "online", "lost", 200_000.0, "will")])
    assert [(t.old, t.new) for t in store.transitions("st-1")] == [("online", "lost"),
                                                                    (None, "online")]
    deleted = await store.prune(now=200_000.0)  # retention 1 day: the first one is too old
    assert deleted == 1
    assert [t.new for t in store.transitions()] == ["lost"]


async def test_history_reports_full_so_ingest_can_defer_events(store: Store) -> None:
    history = History(store, max_pending_rows=2)
    history.add_event(event(0), 1.0)
    assert not history.full
    history.add_event(event(1), 1.0)
    assert history.full


async def test_unwritable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = Store(blocker / "data")
    with pytest.raises(StoreError, match="data_dir"):
        await store.open()
    await store.close()
