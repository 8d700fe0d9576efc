"""EventJournal on a real full disk (a 1 MiB tmpfs, root only): the oldest events go, the
newest get in, every drop is counted, and acks still delete with not one byte free."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import msgspec
import pytest

from agent.config import QueueConfig
from agent.errors import JournalError
from agent.journal import EventJournal
from agent.journal_space import RESERVE_BYTES
from pantau import wire
from tests.agent.publisher.helpers import event

DETAIL = "x" * 400  # ~0.7 KiB a payload: the 1 MiB disk fills in a few hundred events


def fill(mount: Path, name: str, leave: int = 0) -> None:
    """Take the disk's free bytes but `leave`."""
    st = os.statvfs(mount)
    (mount / name).write_bytes(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))


def free_bytes(mount: Path) -> int:
    st = os.statvfs(mount)
    return st.f_bavail * st.f_frsize


def append(queue: EventJournal, seqs: range) -> None:
    for seq in seqs:
        queue.append(msgspec.structs.replace(event("b1", seq), detail=DETAIL))


def queued(queue: EventJournal) -> list[int]:
    return [e.seq for e in queue.pending(limit=100_000)]


def full_queue(small_disk: Path) -> tuple[EventJournal, int]:
    """A queue whose disk filled up once; returns it and the next seq to append."""
    q = EventJournal(QueueConfig(path=small_disk / "queue.db"))
    assert q.room.reserve.stat().st_size == RESERVE_BYTES  # made at open: the disk had room
    fill(small_disk, "filler-1", leave=256 * 1024)  # room for ~150 events
    seq = 1
    while q.dropped_total == 0:
        assert seq < 2000, "the disk never filled up"
        append(q, range(seq, seq + 1))
        seq += 1
    return q, seq


def test_full_disk_drops_the_oldest_and_keeps_every_new_event(small_disk: Path) -> None:
    q, seq = full_queue(small_disk)
    assert not q.room.reserve.exists()  # spent to make room
    fill(small_disk, "filler-2")  # now not one byte is free: the queue must live inside itself
    assert free_bytes(small_disk) == 0
    append(q, range(seq, seq + 400))
    last = seq + 399
    kept = queued(q)
    assert kept[-1] == last  # the newest got in
    assert kept == list(range(kept[0], last + 1))  # only the oldest went, without a gap
    assert q.dropped_total == kept[0] - 1  # and every one of them was counted
    assert q.dropped_total > 400  # it kept dropping as it went: the disk stayed full
    q.close()


def test_acks_still_delete_on_a_full_disk(small_disk: Path) -> None:
    q, seq = full_queue(small_disk)
    fill(small_disk, "filler-2")
    first = queued(q)[0]
    assert q.ack("b1", first + 9) == 10
    assert queued(q)[0] == first + 10
    dropped = q.dropped_total
    append(q, range(seq, seq + 5))  # the pages the ack freed take new events: nothing dropped
    assert q.dropped_total == dropped and queued(q)[-1] == seq + 4
    q.close()


def test_the_reserve_comes_back_and_the_file_may_grow_once_there_is_room(
    small_disk: Path
) -> None:
    q, seq = full_queue(small_disk)
    assert q.room.capped
    (small_disk / "filler-1").unlink()  # someone cleaned up
    q.enforce_bounds()
    assert q.room.reserve.stat().st_size == RESERVE_BYTES and not q.room.capped
    dropped = q.dropped_total
    append(q, range(seq, seq + 50))
    assert q.dropped_total == dropped and queued(q)[-1] == seq + 49
    q.close()


def test_no_reserve_when_the_disk_has_no_room_for_it(small_disk: Path) -> None:
    fill(small_disk, "filler")
    os.truncate(small_disk / "filler", (small_disk / "filler").stat().st_size - RESERVE_BYTES)
    q = EventJournal(QueueConfig(path=small_disk / "queue.db"))
    assert not q.room.reserve.exists()  # it would leave the queue no room of its own
    append(q, range(1, 3))
    assert queued(q) == [1, 2]
    q.close()


OLD_SCHEMA = """CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, boot_id TEXT NOT NULL, seq INTEGER NOT NULL,
    ts REAL NOT NULL, queued_at REAL NOT NULL, payload BLOB NOT NULL, UNIQUE (boot_id, seq));"""


def old_journal(path: Path, events: int) -> None:
    """A queue file as agents before the queue clock wrote it (WAL, as they opened it)."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(OLD_SCHEMA)
    db.executemany("INSERT INTO events (boot_id, seq, ts, queued_at, payload) VALUES (?,?,?,?,?)",
                   [("b1", n, 1.0, 1.0, wire.encode(event("b1", n))) for n in range(1, events + 1)])
    db.commit()
    db.close()


@pytest.mark.parametrize("reserve", [True, False], ids=["reserve-left", "no-reserve"])
def test_upgrading_a_queue_on_a_full_disk_never_sets_it_aside(
    small_disk: Path, reserve: bool
) -> None:
    path = small_disk / "queue.db"
    old_journal(path, 20)
    if reserve:
        path.with_name("queue.db.reserve").write_bytes(bytes(RESERVE_BYTES))
    fill(small_disk, "filler")
    if reserve:  # spent to add the column: the queue opens with its events
        q = EventJournal(QueueConfig(path=path))
        assert len(q) == 20 and q.set_aside == []
        q.close()
        return
    with pytest.raises(JournalError, match=r"cannot open event queue .*free space"):
        EventJournal(QueueConfig(path=path))
    assert sorted(p.name for p in small_disk.iterdir() if "corrupt" in p.name) == []
