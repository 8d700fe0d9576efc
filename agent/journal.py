"""The agent's on-disk event journal (SQLite): events stay here until the collector acks them.

Durability choice: WAL with synchronous=FULL. Events are rare (component
transitions), so one fsync of the WAL per append costs nothing, and FULL makes
"durable before append returns" true across a power cut; NORMAL+WAL would only
keep the file consistent and could lose the last events. WAL also lets the
probe loop append while the network thread reads without blocking each other.

Nothing here raises into the probe loop after start: a failed append is
counted as dropped and logged once. A corrupt file is set aside at open.
Ages are read on the queue clock, not the wall clock, and the drop total
survives restarts (both in agent.journal_meta).

Disk full: SQLite needs free space even to delete (its WAL grows), so on
SQLITE_FULL the queue first makes room to work (agent.journal_space: a reserve
file, a WAL checkpoint, a cap on the file's size), then drops its oldest
events, counted and logged, so the newest get in; acks keep deleting.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from agent.config import QueueConfig
from agent.journal_meta import SCHEMA as META_SCHEMA
from agent.journal_meta import JournalMeta, QueueHealth
from agent.journal_open import open_journal
from agent.journal_space import QueueRoom, is_disk_full
from pantau import wire

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- insertion order = replay order
    boot_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts REAL NOT NULL,
    queued_at REAL NOT NULL,  -- wall clock, for people reading the file
    payload BLOB NOT NULL,
    queued_q REAL NOT NULL DEFAULT 0,  -- queue clock (journal_meta): the age bound reads this
    UNIQUE (boot_id, seq)
);
-- The serial last seen ok per role, kept across restarts and reboots so that a
-- part swapped while the agent was down is still reported as a swap.
CREATE TABLE IF NOT EXISTS last_serials (
    role TEXT PRIMARY KEY,
    serial TEXT NOT NULL,
    updated REAL NOT NULL
);
"""
# When the disk is full, drop this many of the oldest events per round: enough to free
# whole pages (new rows go to the last page), few enough that the DELETE fits in the WAL.
_DISK_FULL_DROP = 64
_DISK_FULL_ROUNDS = 4


_Row = tuple[str, int, float, float, bytes, float]  # boot_id, seq, ts, queued_at, payload, q


@dataclass(frozen=True, slots=True)
class JournaledEvent:
    boot_id: str
    seq: int
    ts: float
    payload: bytes
    rowid: int = field(default=0, compare=False)  # position in the journal



class EventJournal:
    def __init__(
        self, config: QueueConfig, clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(config.path)
        self.set_aside: list[Path] = []
        self._config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._db = open_journal(self.path, _SCHEMA + META_SCHEMA, clock, self.set_aside)
        self._meta = JournalMeta(self._db, monotonic)
        self.room = QueueRoom(self._db, self.path)
        self._bytes = self._scalar("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM events")
        self.enforce_bounds()

    # --- writing -------------------------------------------------------------

    def append(self, event: wire.Event) -> None:
        """Store `event` durably (fsynced) before returning; never raises."""
        try:
            payload = wire.encode(event)
        except wire.PayloadTooLarge as exc:
            self._count_dropped(1, f"event {event.boot_id}/{event.seq} not queued: {exc}")
            return
        with self._lock:
            row = (event.boot_id, event.seq, event.ts, self._clock(), payload, self._meta.clock())
            try:
                self._insert_making_room(row)
                if self._bytes > self._config.max_bytes:
                    self._drop_oldest_until(self._config.max_bytes)
            except sqlite3.Error as exc:  # the probe loop must go on; the loss is counted
                self._count_dropped(1, f"event {event.boot_id}/{event.seq} lost: {exc}")

    def _insert_making_room(self, row: _Row) -> None:
        for _ in range(_DISK_FULL_ROUNDS):
            try:
                self._insert(row)
                return
            except sqlite3.OperationalError as exc:
                if not is_disk_full(exc):
                    raise
                self._make_room(exc)
        self._insert(row)  # a last failure is counted by append

    def _make_room(self, exc: sqlite3.Error) -> None:
        """Disk full: spend the reserve so SQLite can work, then drop the oldest events."""
        self.room.restore_reserve()
        if self.room.lift_cap_if_room():
            return  # space came back: the cap, not the disk, refused the insert
        self.room.work_in_place(exc)
        dropped = self._delete_oldest(_DISK_FULL_DROP)
        self.room.checkpoint()  # their pages are free for reuse once the WAL is folded in
        if dropped:
            self._count_dropped(dropped, f"disk full: dropped the {dropped} oldest events "
                                         "to make room for new ones")

    def _insert(self, row: _Row) -> None:
        cur = self._db.execute(
            "INSERT OR IGNORE INTO events (boot_id, seq, ts, queued_at, payload, queued_q) "
            "VALUES (?, ?, ?, ?, ?, ?)", row)
        if cur.rowcount:
            self._bytes += len(row[4])
        else:  # (boot_id, seq) is already queued: the collector would dedupe it anyway
            log.warning("event %s/%s is already queued; kept the first copy", row[0], row[1])

    # --- reading and acking --------------------------------------------------

    def pending(
        self, limit: int = 100, after: tuple[str, int] | None = None, *, after_rowid: int = 0
    ) -> list[JournaledEvent]:
        """Queued events, oldest first. `after=(boot_id, seq)` continues after that event;
        if it is no longer queued this starts from the oldest (re-sending is harmless: the
        collector de-duplicates). `after_rowid` continues after a `JournaledEvent.rowid`."""
        with self._lock:
            start = after_rowid
            if after is not None:
                start = self._scalar(
                    "SELECT COALESCE((SELECT id FROM events WHERE boot_id = ? AND seq = ?), 0)",
                    after)
            rows = self._db.execute(
                "SELECT boot_id, seq, ts, payload, id FROM events WHERE id > ? "
                "ORDER BY id LIMIT ?", (start, limit)).fetchall()
        return [JournaledEvent(b, s, t, bytes(p), rowid) for b, s, t, p, rowid in rows]

    def ack(self, boot_id: str, seq: int) -> int:
        """Delete `boot_id`'s events with seq <= `seq` (the collector stored them)."""
        with self._lock:
            try:
                return self._delete_acked(boot_id, seq)
            except sqlite3.OperationalError as exc:
                if not is_disk_full(exc):
                    raise
                self.room.work_in_place(exc)  # a DELETE under the cap fits in the WAL
                return self._delete_acked(boot_id, seq)

    def _delete_acked(self, boot_id: str, seq: int) -> int:
        with self._transaction():
            where = "FROM events WHERE boot_id = ? AND seq <= ?"
            size = self._scalar(f"SELECT COALESCE(SUM(LENGTH(payload)), 0) {where}",
                                (boot_id, seq))
            deleted = self._db.execute(f"DELETE {where}", (boot_id, seq)).rowcount
            self._bytes -= size
        return int(deleted)

    def oldest_seq(self, boot_id: str) -> int | None:
        """The lowest seq of `boot_id` still queued (None: none), for `oldest_pending`."""
        with self._lock:
            row = self._db.execute("SELECT MIN(seq) FROM events WHERE boot_id = ?",
                                   (boot_id,)).fetchone()
        return None if row[0] is None else int(row[0])

    def discard(self, boot_id: str, seq: int) -> bool:
        """Remove one event that can never be sent (e.g. over the payload cap); counted dropped."""
        with self._lock:
            size = self._scalar("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM events "
                                "WHERE boot_id = ? AND seq = ?", (boot_id, seq))
            cur = self._db.execute("DELETE FROM events WHERE boot_id = ? AND seq = ?",
                                   (boot_id, seq))
            self._bytes -= size
            self._meta.count_dropped(cur.rowcount)
        return bool(cur.rowcount)

    # --- bounds --------------------------------------------------------------

    def enforce_bounds(self) -> int:
        """Drop events older than max_age_s, then the oldest beyond max_bytes."""
        with self._lock:
            try:
                dropped = self._drop_older_than(self._meta.clock() - self._config.max_age_s)
                dropped += self._drop_oldest_until(self._config.max_bytes)
                self._meta.save()
            except sqlite3.Error as exc:
                log.error("event queue %s: could not enforce bounds: %s", self.path, exc)
                dropped = 0
            self.room.restore_reserve()
            self.room.lift_cap_if_room()
        return dropped

    def _drop_older_than(self, cutoff: float) -> int:
        with self._transaction():
            size = self._scalar("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM events "
                                "WHERE queued_q < ?", (cutoff,))
            count = int(self._db.execute("DELETE FROM events WHERE queued_q < ?",
                                         (cutoff,)).rowcount)
            self._bytes -= size
        if count:
            self._count_dropped(count, f"{count} events older than "
                                       f"{self._config.max_age_s:.0f} s dropped unacked")
        return count

    def _drop_oldest_until(self, max_bytes: int) -> int:
        if self._bytes <= max_bytes:
            return 0
        excess, freed, cutoff = self._bytes - max_bytes, 0, 0
        for rowid, size in self._db.execute("SELECT id, LENGTH(payload) FROM events ORDER BY id"):
            freed, cutoff = freed + size, rowid
            if freed >= excess:
                break
        with self._transaction():
            dropped = int(self._db.execute("DELETE FROM events WHERE id <= ?",
                                           (cutoff,)).rowcount)
        # Nothing left to delete means the running total drifted: trust the table.
        self._bytes = self._bytes - freed if dropped else 0
        if dropped:
            self._count_dropped(dropped, f"{dropped} oldest events dropped: queue over "
                                         f"{max_bytes} bytes")
        return dropped

    def _delete_oldest(self, count: int) -> int:
        with self._transaction():
            ids = "SELECT id FROM events ORDER BY id LIMIT ?"
            size = self._scalar("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM events "
                                f"WHERE id IN ({ids})", (count,))
            deleted = int(self._db.execute(f"DELETE FROM events WHERE id IN ({ids})",
                                           (count,)).rowcount)
            self._bytes -= size
        return deleted

    # --- serials per role ------------------------------------------------------

    def last_serials(self) -> dict[str, str]:
        """Role → serial last seen ok, as remembered by earlier runs."""
        with self._lock:
            try:
                return dict(self._db.execute("SELECT role, serial FROM last_serials"))
            except sqlite3.Error as exc:  # a start without them only misses a swap
                log.error("event queue %s: serials of the last run unreadable: %s",
                          self.path, exc)
                return {}

    def remember_serials(self, serials: dict[str, str]) -> None:
        """Keep role → serial (written only when one changes); never raises."""
        rows = [(role, serial, self._clock()) for role, serial in serials.items()]
        with self._lock:
            try:
                with self._transaction():
                    self._db.executemany(
                        "INSERT INTO last_serials (role, serial, updated) VALUES (?, ?, ?) "
                        "ON CONFLICT (role) DO UPDATE SET serial = excluded.serial, "
                        "updated = excluded.updated", rows)
            except sqlite3.Error as exc:  # the probe loop goes on; a restart may miss a swap
                log.error("event queue %s: serials not saved (%s): a part swapped before the "
                          "next start may not be reported as a swap", self.path, exc)

    # --- bookkeeping ---------------------------------------------------------

    @property
    def dropped_total(self) -> int:
        """Events dropped unacked since the journal was created (survives restarts)."""
        return self._meta.dropped

    def health(self) -> QueueHealth:
        """Queued count, drop total and the oldest event's queue time: the wall clock now
        minus its age on the queue clock, so it moves with a heartbeat's `ts` if the clock jumps."""
        with self._lock:
            # Insertion order is queue-clock order: the oldest is the first row, found by key.
            count, oldest = self._db.execute(
                "SELECT COUNT(*), (SELECT queued_q FROM events ORDER BY id LIMIT 1) "
                "FROM events").fetchone()
            age = None if oldest is None else max(0.0, self._meta.clock() - oldest)
            dropped = self._meta.dropped
        return QueueHealth(int(count), dropped, None if age is None else self._clock() - age)

    def __len__(self) -> int:
        with self._lock:
            return self._scalar("SELECT COUNT(*) FROM events")

    def close(self) -> None:
        with self._lock:
            try:
                self._meta.save()
            except sqlite3.Error as exc:  # a full disk: events already queued are safe
                log.error("event queue %s: queue clock not saved: %s", self.path, exc)
            self._db.close()

    def _count_dropped(self, count: int, why: str) -> None:
        self._meta.count_dropped(count)
        log.error("event queue %s: %s", self.path, why)

    def _scalar(self, sql: str, params: tuple[object, ...] = ()) -> int:
        return int(self._db.execute(sql, params).fetchone()[0])

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")  # the WAL is written here: SQLITE_FULL often comes now
        except BaseException:
            if self._db.in_transaction:  # SQLITE_FULL may have rolled it back already
                self._db.execute("ROLLBACK")
            raise

