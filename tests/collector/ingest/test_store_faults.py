"""The history store when the disk is not kind: a corrupt file, a full filesystem, a data
dir that cannot be opened. Real files, a real 1 MiB tmpfs; the collector never stops, never
acks what is not committed, counts what failed and keeps its backlog bounded."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from collector.history import History
from collector.stats import StoreStats
from collector.store import DB_NAME, Store
from collector.store_file import set_aside
from pantau import wire

STAMP = 1_700_000_000.0
Sent = list[tuple[str, str, str, int]]


def event(seq: int, boot: str = "b1") -> wire.Event:
    return wire.Event(v=1, site="s1", station="st-1", boot_id=boot, seq=seq, ts=1.0,
                      component="iris", from_="ok", to="missing", detail="d" * 1000)


class T:
    """A state change as the Fleet makes them (structural: see store.TransitionLike)."""

    def __init__(self, n: int) -> None:
        self.station, self.site, self.old, self.new = "st-1", "s1", "online", "stale"
        self.at, self.reason = float(n), f"change {n}"


def fill(disk: Path) -> Path:
    """Take every free byte of `disk`; returns the file to delete to give them back."""
    st = os.statvfs(disk)
    filler = disk / "filler"
    filler.write_bytes(b"\0" * (st.f_bavail * st.f_frsize))
    return filler


def history_on(data_dir: Path, **kwargs: object) -> tuple[History, Store, StoreStats]:
    store, stats = Store(data_dir, clock=lambda: STAMP), StoreStats()
    return History(store, stats, **kwargs), store, stats  # type: ignore[arg-type]


def take(history: History, seqs: range) -> None:
    for seq in seqs:
        history.add_event(event(seq), 1.0)
        history.add_ack("s1", "st-1", "b1", seq)


# --- a corrupt file -------------------------------------------------------------------

def random_bytes() -> bytes:
    return os.urandom(64 * 1024)


def header_then_garbage() -> bytes:
    return b"SQLite format 3\x00" + os.urandom(8192)


def text_file() -> bytes:
    return b"this is not a database\n" * 100


@pytest.mark.parametrize("damage", [random_bytes, header_then_garbage, text_file])
async def test_a_corrupt_file_is_set_aside_and_a_fresh_one_started(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: Callable[[], bytes]
) -> None:
    original = damage()
    (tmp_path / DB_NAME).write_bytes(original)
    (tmp_path / f"{DB_NAME}-wal").write_bytes(b"a stale journal must not reach the fresh file")
    history, store, stats = history_on(tmp_path)
    with caplog.at_level(logging.ERROR, logger="collector.store"):
        assert await history.open()
    aside = tmp_path / f"{DB_NAME}.corrupt-{int(STAMP)}"
    assert aside.read_bytes() == original
    assert stats.resets == 1 and stats.problem == "" and store.set_aside == [aside]
    [line] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert str(tmp_path / DB_NAME) in line and str(aside) in line and "fresh" in line
    sent: Sent = []
    take(history, range(1, 4))
    assert await history.flush(lambda *a: sent.append(a))
    assert [e.seq for e in store.events()] == [3, 2, 1] and sent == [("s1", "st-1", "b1", 3)]
    await store.close()


async def test_damage_found_by_a_write_sets_the_file_aside_and_the_batch_is_committed(
    tmp_path: Path
) -> None:
    history, store, stats = history_on(tmp_path)
    assert await history.open()
    take(history, range(1, 2001))
    assert await history.flush(lambda *a: None)
    await store.close()
    with sqlite3.connect(tmp_path / DB_NAME) as conn:  # the events table's root page
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'events'").fetchone()
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    with open(tmp_path / DB_NAME, "r+b") as f:
        f.seek((root[0] - 1) * page)
        f.write(os.urandom(page))
    assert await history.open()  # the damage is not on the pages opening reads
    assert stats.resets == 0
    sent: Sent = []
    take(history, range(2001, 2003))
    assert await history.flush(lambda *a: sent.append(a))
    assert stats.resets == 1 and stats.errors.total() == 0
    assert [e.seq for e in store.events()] == [2002, 2001]  # the fresh file
    assert sent == [("s1", "st-1", "b1", 2002)]
    assert store.set_aside[0].stat().st_size > 100_000  # the old history is kept
    await store.close()


def test_two_files_set_aside_within_a_second_keep_both(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    path.write_bytes(b"first")
    first = set_aside(path, lambda: STAMP)
    path.write_bytes(b"second")
    second = set_aside(path, lambda: STAMP)
    assert (first.read_bytes(), second.read_bytes()) == (b"first", b"second")


# --- a full disk ----------------------------------------------------------------------

async def test_a_full_disk_holds_the_acks_counts_and_commits_once_space_is_back(
    small_disk: Path
) -> None:
    history, store, stats = history_on(small_disk)
    assert await history.open()
    filler = fill(small_disk)
    take(history, range(1, 51))
    sent: Sent = []
    assert not await history.flush(lambda *a: sent.append(a))
    assert not await history.flush(lambda *a: sent.append(a))
    assert sent == [], "an ack ran ahead of the disk"
    assert stats.errors["write"] == 2 and "full" in stats.problem
    assert stats.pending_rows == 50 == history.pending
    filler.unlink()
    assert await history.flush(lambda *a: sent.append(a))
    assert sent == [("s1", "st-1", "b1", 50)]
    assert stats.problem == "" and stats.pending_rows == 0
    assert len(store.events(limit=100)) == 50
    await store.close()


async def test_the_backlog_is_bounded_events_wait_and_the_oldest_changes_go(
    small_disk: Path
) -> None:
    history, store, stats = history_on(small_disk, max_pending_rows=10)
    assert await history.open()
    filler = fill(small_disk)
    history.add_transitions([T(n) for n in range(6)])
    take(history, range(1, 5))
    assert history.full  # ingest now defers new events: the agents keep them
    assert not await history.flush(lambda *a: None)
    history.add_transitions([T(n) for n in range(6, 9)])
    assert (stats.dropped_rows, stats.pending_rows, history.pending) == (3, 10, 10)
    filler.unlink()
    sent: Sent = []
    assert await history.flush(lambda *a: sent.append(a))
    assert [t.reason for t in store.transitions()] == [f"change {n}" for n in range(8, 2, -1)]
    assert [e.seq for e in store.events()] == [4, 3, 2, 1]  # no event is ever dropped
    assert sent == [("s1", "st-1", "b1", 4)]
    await store.close()


# --- a data dir that cannot be opened -------------------------------------------------

async def test_a_store_that_cannot_open_is_retried_counted_and_restored_later(
    tmp_path: Path
) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data dir should be")
    restored: list[object] = []
    history, store, stats = history_on(blocker, restore=restored.append)
    assert not await history.open()
    assert stats.errors["open"] == 1 and "data_dir" in stats.problem
    take(history, range(1, 3))
    sent: Sent = []
    assert not await history.flush(lambda *a: sent.append(a))
    assert stats.errors["open"] == 2 and sent == [] and restored == []
    blocker.unlink()
    assert await history.flush(lambda *a: sent.append(a))
    assert sent == [("s1", "st-1", "b1", 2)] and restored == [{}] and stats.problem == ""
    await store.close()
