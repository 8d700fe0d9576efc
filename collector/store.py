"""SQLite history: component events and station state changes, with retention.

Threading: one writer connection lives on a dedicated single-thread executor,
so every write, prune and close happens on that thread (sqlite3's default
same-thread check stays on). `write` and `prune` are coroutines that hop to it;
the asyncio loop never blocks on disk. Reads (`events`, `transitions`,
`event_marks`) are plain blocking methods that open their own short-lived
connection: call them with `asyncio.to_thread(store.events, ...)` from
handlers. WAL mode lets those readers run while the writer commits.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar

from collector.errors import CollectorError

DB_NAME: Final = "collector.sqlite3"
_T = TypeVar("_T")

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    station TEXT NOT NULL, site TEXT NOT NULL, boot_id TEXT NOT NULL, seq INTEGER NOT NULL,
    ts REAL NOT NULL, received REAL NOT NULL, component TEXT NOT NULL,
    "from" TEXT NOT NULL, "to" TEXT NOT NULL, detail TEXT NOT NULL,
    UNIQUE (station, boot_id, seq)
);
CREATE INDEX IF NOT EXISTS events_site ON events (site, id);
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
"""
_EVENT_COLUMNS: Final = (
    'id, station, site, boot_id, seq, ts, received, component, "from", "to", detail'
)


class StoreError(CollectorError):
    """The history database cannot be opened or written; the message says where and why."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    station: str
    site: str
    boot_id: str
    seq: int
    ts: float  # the agent's clock
    received: float  # the collector's clock
    component: str
    from_: str
    to: str
    detail: str


@dataclass(frozen=True, slots=True)
class StoredTransition:
    id: int
    station: str
    site: str
    old: str | None  # None: the first state the collector knew the station in
    new: str
    at: float
    reason: str


class TransitionLike(Protocol):
    """What `collector.fleet.StationTransition` carries (structural: no fleet import)."""

    @property
    def station(self) -> str: ...
    @property
    def site(self) -> str: ...
    @property
    def old(self) -> str | None: ...
    @property
    def new(self) -> str: ...
    @property
    def at(self) -> float: ...
    @property
    def reason(self) -> str: ...


# One events row: (station, site, boot_id, seq, ts, received, component, from, to, detail).
EventRow = tuple[str, str, str, int, float, float, str, str, str, str]
# One ack mark: (station, boot_id, mark) — every seq of that boot up to mark is stored or
# gone from the agent (see collector.event_ledger).
MarkRow = tuple[str, str, int]

_UPSERT_MARK: Final = (
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


class Store:
    def __init__(
        self, data_dir: Path, retention_days: float = 90.0,
        *, clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = data_dir / DB_NAME
        self.retention_s = retention_days * 86400.0
        self._clock = clock  # stamps event_marks rows, which retention prunes
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pantau-store")
        await self._on_writer(self._open_writer)

    async def close(self) -> None:
        if self._executor is None:
            return
        await self._on_writer(self._close_writer)
        self._executor.shutdown(wait=True)
        self._executor = None

    async def write(
        self, events: Sequence[EventRow], transitions: Sequence[TransitionLike],
        marks: Sequence[MarkRow] = (),
    ) -> int:
        """Commit one batch in one transaction; duplicate events are ignored, a mark never
        moves back. Returns the event and transition rows inserted."""
        rows = [(t.station, t.site, t.old, t.new, t.at, t.reason) for t in transitions]
        now = self._clock()
        mark_rows = [(station, boot, mark, now) for station, boot, mark in marks]
        return await self._on_writer(lambda: self._write_batch(events, rows, mark_rows))

    async def prune(self, now: float) -> int:
        """Delete history older than the retention period; returns rows deleted."""
        return await self._on_writer(lambda: self._prune(now - self.retention_s))

    # --- writer thread -------------------------------------------------------

    async def _on_writer(self, fn: Callable[[], _T]) -> _T:
        if self._executor is None:
            raise StoreError(f"{self.path}: store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _open_writer(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path)
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a power cut may lose the last commits but never corrupts;
            # acks are only sent after commit, so agents resend what was lost.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"cannot open history database {self.path}: {exc}; "
                "check that [state] data_dir exists and is writable by the collector"
            ) from exc
        self._conn = conn

    def _close_writer(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _writer(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"{self.path}: store is not open")
        return self._conn

    def _write_batch(
        self, events: Sequence[EventRow], transitions: Iterable[tuple[object, ...]],
        marks: Iterable[tuple[object, ...]],
    ) -> int:
        conn = self._writer()
        try:
            with conn:
                before = conn.total_changes
                conn.executemany(
                    'INSERT OR IGNORE INTO events (station, site, boot_id, seq, ts, received, '
                    'component, "from", "to", detail) VALUES (?,?,?,?,?,?,?,?,?,?)',
                    events,
                )
                conn.executemany(
                    "INSERT INTO transitions (station, site, old, new, at, reason) "
                    "VALUES (?,?,?,?,?,?)",
                    transitions,
                )
                inserted = conn.total_changes - before
                # Same transaction: a mark is never on disk without the events it covers.
                conn.executemany(_UPSERT_MARK, marks)
                return inserted
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write history to {self.path}: {exc}") from exc

    def _prune(self, cutoff: float) -> int:
        conn = self._writer()
        try:
            with conn:
                n = conn.execute("DELETE FROM events WHERE received < ?", (cutoff,)).rowcount
                # A boot quiet for that long is forgotten; its agent's next event says, in
                # oldest_pending, what it still holds (a live boot's mark is re-stamped).
                conn.execute("DELETE FROM event_marks WHERE updated < ?", (cutoff,))
                return n + conn.execute("DELETE FROM transitions WHERE at < ?", (cutoff,)).rowcount
        except sqlite3.Error as exc:
            raise StoreError(f"cannot prune history in {self.path}: {exc}") from exc

    # --- reads (blocking: run them in a thread) ------------------------------

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            with closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)) as conn:
                return conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read history database {self.path}: {exc}") from exc

    def event_marks(self) -> dict[tuple[str, str], int]:
        """The ack mark per (station, boot_id), to restore the Fleet's ledger after a restart.

        Two lower bounds, the higher wins: the mark persisted with the events (exact,
        and it includes what the agent said it no longer holds), and the highest seq s
        with all of 1..s stored (for boots from a store older than that table). Never
        MAX(seq): a gap in the store would be acked. Never "from the lowest stored seq":
        what lies below it may have been dropped by the broker or never committed.
        """
        marks: dict[tuple[str, str], int] = {}
        for station, boot, mark in [*self._query(_CONTIGUOUS_MARKS),
                                    *self._query("SELECT station, boot_id, mark FROM event_marks")]:
            key = (station, boot)
            marks[key] = max(int(mark), marks.get(key, 0))
        return marks

    def events(
        self,
        station: str | None = None,
        site: str | None = None,
        since: float | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[StoredEvent]:
        """Events newest first (by id); page with `before_id` = the last id of the previous page.

        `since` filters on the agent's `ts`.
        """
        where, args = _filters([
            ("station = ?", station), ("site = ?", site), ("ts >= ?", since), ("id < ?", before_id),
        ])
        sql = f"SELECT {_EVENT_COLUMNS} FROM events{where} ORDER BY id DESC LIMIT ?"
        return [StoredEvent(*row) for row in self._query(sql, [*args, max(0, limit)])]

    def transitions(
        self, station: str | None = None, since: float | None = None, limit: int = 100
    ) -> list[StoredTransition]:
        """Station state changes newest first."""
        where, args = _filters([("station = ?", station), ("at >= ?", since)])
        sql = (
            "SELECT id, station, site, old, new, at, reason FROM transitions"
            f"{where} ORDER BY id DESC LIMIT ?"
        )
        return [StoredTransition(*row) for row in self._query(sql, [*args, max(0, limit)])]


def _filters(conditions: Iterable[tuple[str, object | None]]) -> tuple[str, list[object]]:
    used = [(clause, value) for clause, value in conditions if value is not None]
    if not used:
        return "", []
    return " WHERE " + " AND ".join(c for c, _ in used), [v for _, v in used]


