"""The journal's own figures, kept in its file: the drop total and the queue clock.

Drop total: how many events the queue bounds dropped unacked since the
journal was created. It is sent in every heartbeat (`dropped_events`), so it
must survive restarts; it is saved with each drop.

Queue clock: an event's age (for `max_age_s` and `oldest_queued_ts`) is read
on this clock, never on the wall clock: a station clock jumping a week forward
(an NTP fix after a dead RTC battery, a hand-set date) would otherwise drop the
whole backlog at once. It runs on the monotonic clock and counts the agent's
running time across restarts: its reading is saved at every bounds run and at
close, and a new run continues from the saved reading or the newest event's
stamp, whichever is later. Time the agent is not running does not age events
(at most one bounds period, 5 min, is lost per unclean stop); the size bound
still holds the queue whatever the clocks do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import suppress
from typing import Final, NamedTuple

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value REAL NOT NULL
);
"""
_DROPPED: Final = "dropped_events"
_CLOCK: Final = "queue_clock"


class QueueHealth(NamedTuple):
    """What a heartbeat says about the queue (`wire.AgentInfo`'s optional fields)."""

    queued: int
    dropped: int
    oldest_ts: float | None  # wall-clock time of the oldest queued event; None: queue empty


def add_queue_clock_column(db: sqlite3.Connection) -> None:
    """Journals made before the queue clock lack `queued_q`: their events read 0, the
    clock's start, so their age counts from the upgrade (only the schema is written)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(events)")}
    if "queued_q" not in columns:
        db.execute("ALTER TABLE events ADD COLUMN queued_q REAL NOT NULL DEFAULT 0")


class JournalMeta:
    """The `meta` rows of one journal connection; callers hold the journal's lock."""

    def __init__(self, db: sqlite3.Connection, monotonic: Callable[[], float]) -> None:
        self._db = db
        self._monotonic = monotonic
        self.dropped = int(self._read(_DROPPED))
        newest = db.execute("SELECT MAX(queued_q) FROM events").fetchone()[0]
        self._base = max(self._read(_CLOCK), newest or 0.0)
        self._origin = monotonic()

    def clock(self) -> float:
        """The queue clock now: seconds of agent running time since the journal began."""
        return self._base + (self._monotonic() - self._origin)

    def save(self) -> None:
        """Save the clock's reading and the drop total (at each bounds run and at close)."""
        self._write(_CLOCK, self.clock())
        self._write(_DROPPED, self.dropped)

    def count_dropped(self, count: int) -> None:
        """Add `count` to the total; kept in memory even if the disk refuses the write."""
        self.dropped += count
        # Disk full: `save` at the next bounds run or at close writes it.
        with suppress(sqlite3.Error):
            self._write(_DROPPED, self.dropped)

    def _read(self, key: str) -> float:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return 0.0 if row is None else float(row[0])

    def _write(self, key: str, value: float) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))
