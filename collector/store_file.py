"""The history database file: schema, opening, and setting a corrupt file aside.

A damaged file is never a reason to stop monitoring. SQLite names it
SQLITE_NOTADB ("file is not a database") or SQLITE_CORRUPT ("database disk
image is malformed"), when the file is opened or later, when a statement
reaches a damaged page. Either way the file is renamed
`collector.sqlite3.corrupt-<unix time>` (its -wal and -shm with it, they
belong to it) and a fresh database is made in its place: the fleet view and
the new history go on, and the old history stays on disk for a person.

Everything here is blocking; the Store calls it on its writer thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Final

Marks = dict[tuple[str, str], int]

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    station TEXT NOT NULL, site TEXT NOT NULL, boot_id TEXT NOT NULL, seq INTEGER NOT NULL,
    ts REAL NOT NULL, received REAL NOT NULL, component TEXT NOT NULL,
    "from" TEXT NOT NULL, "to" TEXT NOT NULL, detail TEXT NOT NULL,
    UNIQUE (station, boot_id, seq)
);
CREATE INDEX IF NOT EXISTS events_site ON events (site, id);
-- A station's newest events: its page and API detail read them (collector/recent_events.py).
CREATE INDEX IF NOT EXISTS events_station ON events (station, id);
CREATE INDEX IF NOT EXISTS events_received ON events (received);
CREATE TABLE IF NOT EXISTS transitions (
    id INTEGER PRIMARY KEY,
    station TEXT NOT NULL, site TEXT NOT NULL, old TEXT, new TEXT NOT NULL,
    at REAL NOT NULL, reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transitions_station ON transitions (station, id);
CREATE INDEX IF NOT EXISTS transitions_at ON transitions (at);
-- The ack mark per boot, written in the same transaction as the events it covers.
CREATE TABLE IF NOT EXISTS event_marks (
    station TEXT NOT NULL, boot_id TEXT NOT NULL, mark INTEGER NOT NULL, updated REAL NOT NULL,
    PRIMARY KEY (station, boot_id)
);
-- Events this collector's decoder refused but whose (boot_id, seq) it could read: kept
-- with their raw payload and acked, so a rolling upgrade blocks no agent's acks;
-- `pantau-collector replay-rejected` moves them into `events` once a newer decoder
-- accepts them (`replayed` is when).
CREATE TABLE IF NOT EXISTS rejected_events (
    id INTEGER PRIMARY KEY,
    station TEXT NOT NULL, site TEXT NOT NULL, boot_id TEXT NOT NULL, seq INTEGER NOT NULL,
    received REAL NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL,
    payload BLOB NOT NULL, replayed REAL,
    UNIQUE (station, boot_id, seq)
);
CREATE INDEX IF NOT EXISTS rejected_events_received ON rejected_events (received);
"""
INSERT_EVENTS: Final = (
    'INSERT OR IGNORE INTO events (station, site, boot_id, seq, ts, received, '
    'component, "from", "to", detail) VALUES (?,?,?,?,?,?,?,?,?,?)'
)
INSERT_REJECTED: Final = (
    "INSERT OR IGNORE INTO rejected_events (station, site, boot_id, seq, received, reason, "
    "detail, payload) VALUES (?,?,?,?,?,?,?,?)"
)
UPSERT_MARK: Final = (
    "INSERT INTO event_marks (station, boot_id, mark, updated) VALUES (?,?,?,?) "
    "ON CONFLICT (station, boot_id) DO UPDATE SET "
    "mark = MAX(mark, excluded.mark), updated = excluded.updated"
)
# Per boot, the highest seq s with all of 1..s stored: seq - row_number() is 0 exactly
# along the run that starts at 1 (seqs are unique per boot). Walks the unique index.
_CONTIGUOUS_MARKS: Final = """
SELECT station, boot_id, MAX(seq) FROM (
    SELECT station, boot_id, seq,
           seq - ROW_NUMBER() OVER (PARTITION BY station, boot_id ORDER BY seq) AS gap
    FROM events WHERE seq >= 1)
WHERE gap = 0 GROUP BY station, boot_id
"""
WAITING_REJECTED: Final = "SELECT COUNT(*) FROM rejected_events WHERE replayed IS NULL"


def read_marks(conn: sqlite3.Connection) -> Marks:
    """The ack mark per (station, boot_id), to restore the Fleet's ledger after a restart.

    Two lower bounds, the higher wins: the mark persisted with the events (exact,
    and it includes what the agent said it no longer holds), and the highest seq s
    with all of 1..s stored (for boots from a store older than that table). Never
    MAX(seq): a gap in the store would be acked. Never "from the lowest stored seq":
    what lies below it may have been dropped by the broker or never committed.
    """
    marks: Marks = {}
    rows = [*conn.execute(_CONTIGUOUS_MARKS),
            *conn.execute("SELECT station, boot_id, mark FROM event_marks")]
    for station, boot, mark in rows:
        key = (station, boot)
        marks[key] = max(int(mark), marks.get(key, 0))
    return marks


_CORRUPT: Final = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


def is_corrupt(exc: sqlite3.Error) -> bool:
    """Whether SQLite says the file itself is damaged (not full, locked or unreadable)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in _CORRUPT


def connect_writer(path: Path) -> sqlite3.Connection:
    """The writer connection with the schema in place; sqlite3.Error if it cannot be."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a power cut may lose the last commits but never corrupts;
        # acks are only sent after commit, so agents resend what was lost.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(SCHEMA)
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def set_aside(path: Path, clock: Callable[[], float]) -> Path:
    """Rename the damaged `path` (and its -wal, -shm) to a free `.corrupt-<time>` name.

    OSError if it cannot be renamed: then there is no room for a fresh file either.
    """
    stamp = int(clock())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 0
    while aside.exists():  # two resets within a second must not overwrite the first
        n += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    path.rename(aside)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(aside.with_name(aside.name + suffix))
    return aside
