"""SQLite history: component events, station state changes and refused events, with retention.

Threading: one writer connection lives on a dedicated single-thread executor,
so every open, write, prune and close happens on that thread (sqlite3's default
same-thread check stays on). `open`, `write` and `prune` are coroutines that hop
to it; the asyncio loop never blocks on disk. Reads (`events`, `transitions`,
`event_marks`) are plain blocking methods that open their own short-lived
connection: call them with `asyncio.to_thread(store.events, ...)` from
handlers. WAL mode lets those readers run while the writer commits.

A corrupt file is set aside and a fresh one started (collector/store_file.py),
at open or when a write or prune finds the damage; `set_aside` lists them.
Every other failure is a `StoreError` naming the operation (open, write,
prune) for the collector's error counter.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, Protocol, TypeVar

from collector.errors import CollectorError
from collector.store_file import (
    INSERT_EVENTS,
    INSERT_REJECTED,
    UPSERT_MARK,
    WAITING_REJECTED,
    Marks,
    connect_writer,
    is_corrupt,
    read_marks,
    set_aside,
)

log = logging.getLogger(__name__)

DB_NAME: Final = "collector.sqlite3"
StoreOp = Literal["open", "write", "prune"]
STORE_OPS: Final[tuple[StoreOp, ...]] = ("open", "write", "prune")
_T = TypeVar("_T")
_EVENT_COLUMNS: Final = (
    'id, station, site, boot_id, seq, ts, received, component, "from", "to", detail'
)


class StoreError(CollectorError):
    """The history database cannot be opened or written; the message says where and why."""

    def __init__(self, op: StoreOp, message: str) -> None:
        super().__init__(message)
        self.op: StoreOp = op


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
# One refused event: (station, site, boot_id, seq, received, reason, detail, raw payload).
RejectedRow = tuple[str, str, str, int, float, str, str, bytes]

@dataclass(frozen=True, slots=True)
class Opened:
    marks: Marks  # to restore the Fleet's ledger
    rejected_waiting: int  # refused events stored and not replayed yet


class Store:
    def __init__(
        self, data_dir: Path, retention_days: float = 90.0,
        *, clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = data_dir / DB_NAME
        self.retention_s = retention_days * 86400.0
        self._clock = clock  # stamps event_marks rows and set-aside files
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self.set_aside: list[Path] = []  # corrupt files moved away by this Store, oldest first

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    async def open(self) -> Opened:
        """Open (setting a corrupt file aside first); StoreError("open") if it cannot."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pantau-store")
        return await self._on_writer(self._open_writer)

    async def close(self) -> None:
        if self._executor is None:
            return
        await self._on_writer(self._close_writer)
        self._executor.shutdown(wait=True)
        self._executor = None

    async def write(
        self, events: Sequence[EventRow], transitions: Sequence[TransitionLike],
        marks: Sequence[MarkRow] = (), rejected: Sequence[RejectedRow] = (),
    ) -> int:
        """Commit one batch in one transaction; duplicate events are ignored, a mark never
        moves back. Returns the event, transition and refused-event rows inserted."""
        rows = [(t.station, t.site, t.old, t.new, t.at, t.reason) for t in transitions]
        now = self._clock()
        mark_rows = [(station, boot, mark, now) for station, boot, mark in marks]
        return await self._on_writer(
            lambda: self._write_batch(events, rows, mark_rows, rejected))

    async def prune(self, now: float) -> int:
        """Delete history older than the retention period; returns rows deleted."""
        return await self._on_writer(lambda: self._prune(now - self.retention_s))

    # --- writer thread -------------------------------------------------------

    async def _on_writer(self, fn: Callable[[], _T]) -> _T:
        if self._executor is None:
            raise StoreError("open", f"{self.path}: store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _open_writer(self, set_aside_corrupt: bool = True) -> Opened:
        self._close_writer()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return self._connect()
        except (OSError, sqlite3.Error) as exc:
            if set_aside_corrupt and isinstance(exc, sqlite3.Error) and is_corrupt(exc):
                self._set_aside(exc)
                return self._open_writer(set_aside_corrupt=False)
            raise StoreError(
                "open", f"cannot open history database {self.path}: {exc}; check that "
                "[state] data_dir is writable by the collector and its disk has room",
            ) from exc

    def _connect(self) -> Opened:
        conn = connect_writer(self.path)
        try:
            opened = Opened(read_marks(conn), conn.execute(WAITING_REJECTED).fetchone()[0])
        except sqlite3.Error:
            conn.close()
            raise
        self._conn = conn
        return opened

    def _set_aside(self, exc: sqlite3.Error) -> None:
        self._close_writer()
        try:
            aside = set_aside(self.path, self._clock)
        except OSError as move:
            raise StoreError("open", f"history database {self.path} is corrupt ({exc}) and "
                             f"cannot be moved aside: {move}") from move
        self.set_aside.append(aside)
        log.error("history database %s is corrupt (%s): moved aside to %s, starting a fresh "
                  "one; the old history is kept there", self.path, exc, aside)

    def _close_writer(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _writer(self, op: StoreOp) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(op, f"{self.path}: store is not open")
        return self._conn

    def _retrying_on_corruption(self, op: StoreOp, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `fn` in the writer; a corrupt file is set aside and `fn` runs once more."""
        try:
            return fn(self._writer(op))
        except sqlite3.Error as exc:
            if not is_corrupt(exc):
                raise StoreError(op, f"cannot {op} history in {self.path}: {exc}") from exc
            self._set_aside(exc)
        self._open_writer(set_aside_corrupt=False)
        try:
            return fn(self._writer(op))
        except sqlite3.Error as exc:
            raise StoreError(op, f"cannot {op} history in {self.path}: {exc}") from exc

    def _write_batch(
        self, events: Sequence[EventRow], transitions: Sequence[tuple[object, ...]],
        marks: Sequence[tuple[object, ...]], rejected: Sequence[RejectedRow],
    ) -> int:
        def write(conn: sqlite3.Connection) -> int:
            with conn:
                before = conn.total_changes
                conn.executemany(INSERT_EVENTS, events)
                conn.executemany(INSERT_REJECTED, rejected)
                conn.executemany(
                    "INSERT INTO transitions (station, site, old, new, at, reason) "
                    "VALUES (?,?,?,?,?,?)", transitions)
                inserted = conn.total_changes - before
                # Same transaction: a mark is never on disk without the events it covers.
                conn.executemany(UPSERT_MARK, marks)
                return inserted

        return self._retrying_on_corruption("write", write)

    def _prune(self, cutoff: float) -> int:
        def prune(conn: sqlite3.Connection) -> int:
            with conn:
                n = conn.execute("DELETE FROM events WHERE received < ?", (cutoff,)).rowcount
                n += conn.execute("DELETE FROM rejected_events WHERE received < ?",
                                  (cutoff,)).rowcount
                # A boot quiet for that long is forgotten; its agent's next event says, in
                # oldest_pending, what it still holds (a live boot's mark is re-stamped).
                conn.execute("DELETE FROM event_marks WHERE updated < ?", (cutoff,))
                return n + conn.execute("DELETE FROM transitions WHERE at < ?", (cutoff,)).rowcount

        return self._retrying_on_corruption("prune", prune)

    # --- reads (blocking: run them in a thread) ------------------------------

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            with closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)) as conn:
                return conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError("open", f"cannot read history database {self.path}: {exc}") from exc

    def event_marks(self) -> Marks:
        """See `read_marks`; what `open` restores, read from a separate connection."""
        try:
            with closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)) as conn:
                return read_marks(conn)
        except sqlite3.Error as exc:
            raise StoreError("open", f"cannot read history database {self.path}: {exc}") from exc

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

    def recent_events(self, station: str, count: int) -> list[StoredEvent]:
        """The station's last `count` events, oldest first."""
        return self.events(station=station, limit=count)[::-1]

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
