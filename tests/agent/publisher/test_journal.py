"""EventJournal on real SQLite files: order, acks, bounds, restarts, corruption, disk full."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from agent.config import QueueConfig
from agent.errors import JournalError
from agent.journal import EventJournal
from pantau import wire
from tests.agent.publisher.helpers import event


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def seqs(queue: EventJournal) -> list[tuple[str, int]]:
    return [(e.boot_id, e.seq) for e in queue.pending(limit=1000)]


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[EventJournal]:
    q = EventJournal(QueueConfig(path=tmp_path / "sub" / "queue.db"))
    yield q
    q.close()


def test_pending_is_insertion_order_across_boots(queue: EventJournal) -> None:
    for boot, seq in [("old", 7), ("old", 8), ("new", 1), ("new", 2)]:
        queue.append(event(boot, seq))
    assert seqs(queue) == [("old", 7), ("old", 8), ("new", 1), ("new", 2)]
    assert len(queue) == 4
    first = queue.pending(limit=1)[0]
    assert first.payload.startswith(b"{") and b'"seq":7' in first.payload


@pytest.mark.parametrize(("after", "expected"), [
    (None, [("a", 1), ("a", 2), ("b", 1)]),
    (("a", 1), [("a", 2), ("b", 1)]),
    (("b", 1), []),
    (("gone", 9), [("a", 1), ("a", 2), ("b", 1)]),  # unknown cursor: from the oldest
])
def test_pending_after_a_cursor(queue: EventJournal, after: tuple[str, int] | None,
                                expected: list[tuple[str, int]]) -> None:
    for boot, seq in [("a", 1), ("a", 2), ("b", 1)]:
        queue.append(event(boot, seq))
    assert [(e.boot_id, e.seq) for e in queue.pending(after=after)] == expected


@pytest.mark.parametrize(("boot", "upto", "deleted", "left"), [
    ("a", 2, 2, [("a", 3), ("b", 1)]),
    ("a", 0, 0, [("a", 1), ("a", 2), ("a", 3), ("b", 1)]),
    ("b", 5, 1, [("a", 1), ("a", 2), ("a", 3)]),
    ("zzz", 5, 0, [("a", 1), ("a", 2), ("a", 3), ("b", 1)]),
])
def test_ack_deletes_only_that_boot_up_to_seq(
    queue: EventJournal, boot: str, upto: int, deleted: int, left: list[tuple[str, int]]
) -> None:
    for b, s in [("a", 1), ("a", 2), ("a", 3), ("b", 1)]:
        queue.append(event(b, s))
    assert queue.ack(boot, upto) == deleted
    assert seqs(queue) == left


def test_duplicate_append_keeps_the_first(queue: EventJournal) -> None:
    queue.append(event("a", 1, ts=1.0))
    queue.append(event("a", 1, ts=2.0))
    assert [e.ts for e in queue.pending()] == [1.0]


def test_events_survive_a_restart(tmp_path: Path) -> None:
    cfg = QueueConfig(path=tmp_path / "queue.db")
    first = EventJournal(cfg)
    for seq in (1, 2, 3):
        first.append(event("a", seq))
    first.close()
    second = EventJournal(cfg)
    assert seqs(second) == [("a", 1), ("a", 2), ("a", 3)]
    second.close()


def test_bound_by_age_drops_old_events(tmp_path: Path) -> None:
    mono = FakeClock(5.0)
    q = EventJournal(QueueConfig(path=tmp_path / "q.db", max_age_s=100.0), monotonic=mono)
    q.append(event("a", 1))
    mono.now = 55.0
    q.append(event("a", 2))
    mono.now = 125.0  # event 1 is 120 s old, event 2 is 70 s old
    assert q.enforce_bounds() == 1
    assert seqs(q) == [("a", 2)] and q.dropped_total == 1
    q.close()


@pytest.mark.parametrize("jump", [7 * 86400.0, -7 * 86400.0])
def test_a_wall_clock_jump_drops_nothing_and_moves_the_oldest_ts_with_it(
    tmp_path: Path, jump: float
) -> None:
    wall, mono = FakeClock(1_700_000_000.0), FakeClock(5.0)
    q = EventJournal(QueueConfig(path=tmp_path / "q.db", max_age_s=100.0),
                     clock=wall, monotonic=mono)
    q.append(event("a", 1))
    mono.now, wall.now = 35.0, wall.now + 30.0 + jump  # 30 s of real time, and a jump
    assert q.enforce_bounds() == 0 and seqs(q) == [("a", 1)]
    assert q.health() == (1, 0, wall.now - 30.0)  # 30 s old on the heartbeat's own clock
    q.close()


def test_age_and_drop_total_survive_a_restart(tmp_path: Path) -> None:
    config = QueueConfig(path=tmp_path / "q.db", max_age_s=100.0, max_bytes=10**6)
    mono = FakeClock(1000.0)
    first = EventJournal(config, monotonic=mono)
    first.append(event("a", 1))
    first.discard("a", 1)  # one drop, counted
    first.append(event("a", 2))
    mono.now = 1060.0  # 60 s of running time
    first.close()
    mono.now = 3.0  # a reboot: the monotonic clock starts again
    second = EventJournal(config, monotonic=mono)
    assert (second.dropped_total, seqs(second)) == (1, [("a", 2)])
    mono.now = 33.0  # 60 + 30 s: under the bound
    assert second.enforce_bounds() == 0
    mono.now = 44.0  # 60 + 41 s: over it
    assert second.enforce_bounds() == 1 and second.dropped_total == 2
    assert second.health() == (0, 2, None)
    second.close()


def test_a_journal_from_before_the_queue_clock_keeps_its_events(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    old = sqlite3.connect(path)
    old.executescript("""CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, boot_id TEXT NOT NULL, seq INTEGER NOT NULL,
        ts REAL NOT NULL, queued_at REAL NOT NULL, payload BLOB NOT NULL,
        UNIQUE (boot_id, seq));""")
    old.execute("INSERT INTO events (boot_id, seq, ts, queued_at, payload) VALUES (?,?,?,?,?)",
                ("a", 1, 1.0, 1.0, wire.encode(event("a", 1))))
    old.commit()
    old.close()
    mono = FakeClock(0.0)
    q = EventJournal(QueueConfig(path=path, max_age_s=100.0), monotonic=mono)
    assert seqs(q) == [("a", 1)]  # not dropped for its old wall-clock queue time
    mono.now = 101.0
    assert q.enforce_bounds() == 1  # its age counts from the upgrade
    q.close()


def test_bound_by_size_keeps_the_newest(tmp_path: Path) -> None:
    size = len(wire.encode(event("a", 1)))  # every seq here has one digit: same size
    q = EventJournal(QueueConfig(path=tmp_path / "q.db", max_bytes=3 * size))
    for seq in range(1, 7):
        q.append(event("a", seq))
    assert seqs(q) == [("a", 4), ("a", 5), ("a", 6)]
    assert q.dropped_total == 3 and q.enforce_bounds() == 0
    q.close()


def test_corrupt_file_is_set_aside_and_a_fresh_queue_works(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    garbage = b"this is not an sqlite database\n" * 200
    path.write_bytes(garbage)
    q = EventJournal(QueueConfig(path=path), clock=FakeClock(1234.0))
    assert q.set_aside == [tmp_path / "queue.db.corrupt-1234"]
    assert q.set_aside[0].read_bytes() == garbage
    q.append(event("a", 1))
    assert seqs(q) == [("a", 1)]
    q.close()


def test_disk_full_drops_oldest_to_make_room_and_never_raises(tmp_path: Path) -> None:
    q = EventJournal(QueueConfig(path=tmp_path / "q.db"))
    big = "x" * 1000
    # Cap the file at its current size: SQLite then reports "database or disk is full".
    pages = q._db.execute("PRAGMA page_count").fetchone()[0]
    q._db.execute(f"PRAGMA max_page_count = {pages + 4}")
    for seq in range(1, 60):
        q.append(msgspec.structs.replace(event("a", seq), detail=big))
    assert q.dropped_total > 0  # it had to make room
    remaining = seqs(q)
    assert remaining[-1] == ("a", 59)  # the newest event made it in
    assert remaining == sorted(remaining)
    q.close()


def test_unopenable_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(JournalError, match="cannot create queue directory"):
        EventJournal(QueueConfig(path=blocker / "sub" / "queue.db"))


def test_sqlite_is_wal_and_full_sync(queue: EventJournal) -> None:
    db = sqlite3.connect(queue.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert queue._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_serials_per_role_survive_a_reopen(tmp_path: Path) -> None:
    config = QueueConfig(path=tmp_path / "queue.sqlite3")
    journal = EventJournal(config, clock=lambda: 100.0)
    assert journal.last_serials() == {}
    journal.remember_serials({"fingerprint": "A", "camera": "C1"})
    journal.remember_serials({"fingerprint": "B"})
    journal.close()
    again = EventJournal(config, clock=lambda: 200.0)
    assert again.last_serials() == {"fingerprint": "B", "camera": "C1"}
    assert len(again) == 0  # serials are not events: nothing to send
    again.close()
