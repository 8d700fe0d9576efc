"""SQLite for the asset register, repair records and readiness history (`assets.sqlite3`).

A file of its own beside the event history, with the same threading: one
writer connection on a single-thread executor (`write`, `update_repair`,
`prune` hop to it), and blocking reads in `collector.store_assets_read` that
open their own read-only connection (run them in a thread). Writes arrive in
batches of what changed (`AssetBatch`), never per heartbeat.

Retention (`[state] retention_days`) deletes ended spells, change records,
closed repairs and readiness rows older than the period; it never deletes an
open repair, a present asset, or the last readiness row of a station (the
state that holds at the start of the kept history).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TypeVar

from collector.assets import AssetChange, DeviceId, Spell
from collector.readiness import ReadinessRow
from collector.repairs import Repair
from collector.store_assets_read import AssetStoreError

DB_NAME: Final = "assets.sqlite3"
WRITER_CACHE_KIB: Final = 256
_T = TypeVar("_T")

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS asset_spells (
    id INTEGER PRIMARY KEY,
    station TEXT NOT NULL, site TEXT NOT NULL, role TEXT NOT NULL,
    vid TEXT NOT NULL, pid TEXT NOT NULL, serial TEXT NOT NULL,
    manufacturer TEXT NOT NULL, product TEXT NOT NULL, standin INTEGER NOT NULL,
    start_at REAL NOT NULL, end_at REAL  -- NULL while present
);
CREATE INDEX IF NOT EXISTS spells_role ON asset_spells (station, role, end_at);
CREATE INDEX IF NOT EXISTS spells_serial ON asset_spells (serial, start_at);
CREATE TABLE IF NOT EXISTS asset_changes (
    id INTEGER PRIMARY KEY,
    station TEXT NOT NULL, site TEXT NOT NULL, role TEXT NOT NULL, kind TEXT NOT NULL,
    at REAL NOT NULL, vid TEXT, pid TEXT, serial TEXT, old_vid TEXT, old_pid TEXT, old_serial TEXT
);
CREATE INDEX IF NOT EXISTS changes_station ON asset_changes (station, at);
CREATE TABLE IF NOT EXISTS repairs (
    id TEXT PRIMARY KEY,
    station TEXT NOT NULL, site TEXT NOT NULL, role TEXT NOT NULL, unit INTEGER NOT NULL,
    model_vid TEXT NOT NULL, model_pid TEXT NOT NULL, model_name TEXT NOT NULL,
    model_seen INTEGER NOT NULL, last_serial TEXT, status TEXT NOT NULL,
    opened_at REAL NOT NULL, closed_at REAL, outcome TEXT,
    -- written by people through POST /api/v1/repairs/{id}, never by the tracker
    ordered_at REAL, ticket TEXT NOT NULL DEFAULT '', note TEXT NOT NULL DEFAULT '',
    updated_by TEXT, updated_at REAL
);
CREATE INDEX IF NOT EXISTS repairs_open ON repairs (closed_at, site);
CREATE TABLE IF NOT EXISTS readiness (
    id INTEGER PRIMARY KEY,
    station TEXT NOT NULL, site TEXT NOT NULL, readiness TEXT NOT NULL, at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS readiness_at ON readiness (at);
CREATE INDEX IF NOT EXISTS readiness_station ON readiness (station, id);
"""
_UPSERT_REPAIR: Final = (
    "INSERT INTO repairs (id, station, site, role, unit, model_vid, model_pid, model_name, "
    "model_seen, last_serial, status, opened_at, closed_at, outcome) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET "
    "status = excluded.status, closed_at = excluded.closed_at, outcome = excluded.outcome"
)


@dataclass(slots=True)
class AssetBatch:
    spells: list[Spell] = field(default_factory=list)  # in order: begun (no end) or ended
    changes: list[AssetChange] = field(default_factory=list)
    repairs: list[Repair] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # repair ids no longer a repair
    readiness: list[ReadinessRow] = field(default_factory=list)

    def __len__(self) -> int:
        return (len(self.spells) + len(self.changes) + len(self.repairs) + len(self.dropped)
                + len(self.readiness))

    def merge_older(self, older: AssetBatch) -> None:
        """Put a batch that failed to commit back in front of this one."""
        for name in ("spells", "changes", "repairs", "dropped", "readiness"):
            getattr(self, name)[:0] = getattr(older, name)


@dataclass(frozen=True, slots=True)
class RepairEdit:
    """What a person set on a repair; None leaves a field as it is."""

    ordered_at: float | None = None
    ticket: str | None = None
    note: str | None = None


class AssetStore:
    def __init__(self, data_dir: Path, retention_days: float = 90.0) -> None:
        self.path = data_dir / DB_NAME
        self.retention_s = retention_days * 86400.0
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    async def open(self) -> None:
        """Open (or retry opening) the database; AssetStoreError says why it cannot."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1,
                                                thread_name_prefix="pantau-assets")
        await self._on_writer(self._open_writer)

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    async def close(self) -> None:
        if self._executor is None:
            return
        await self._on_writer(self._close_writer)
        self._executor.shutdown(wait=True)
        self._executor = None

    async def write(self, batch: AssetBatch) -> None:
        await self._on_writer(lambda: self._guarded("write", lambda c: _write(c, batch)))

    async def update_repair(self, repair_id: str, edit: RepairEdit, user: str, at: float) -> bool:
        """Set what a person changed; False when there is no such repair."""
        return await self._on_writer(
            lambda: self._guarded("update a repair in", lambda c: _edit(c, repair_id, edit,
                                                                        user, at)))

    async def prune(self, now: float) -> int:
        cutoff = now - self.retention_s
        return await self._on_writer(lambda: self._guarded("prune", lambda c: _prune(c, cutoff)))

    # --- writer thread -------------------------------------------------------

    async def _on_writer(self, fn: Callable[[], _T]) -> _T:
        if self._executor is None:
            raise AssetStoreError(f"{self.path}: asset store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _open_writer(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path)
            conn.execute("PRAGMA journal_mode=WAL")
            # As the history: a power cut may lose the last second, never the file.
            conn.execute("PRAGMA synchronous=NORMAL")
            # Writes are small batches of changes: a small page cache (SQLite's default is
            # 2 MiB) keeps the register's memory per fault rather than per station.
            conn.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
            conn.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise AssetStoreError(
                f"cannot open asset database {self.path}: {exc}; "
                "check that [state] data_dir exists and is writable by the collector"
            ) from exc
        self._conn = conn

    def _close_writer(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _guarded(self, what: str, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._conn is None:
            raise AssetStoreError(f"{self.path}: asset store is not open")
        try:
            with self._conn:
                return fn(self._conn)
        except sqlite3.Error as exc:
            raise AssetStoreError(f"cannot {what} the asset database {self.path}: {exc}") from exc


_START: Final = (
    "INSERT INTO asset_spells (station, site, role, vid, pid, serial, manufacturer, product, "
    "standin, start_at) VALUES (?,?,?,?,?,?,?,?,?,?)"
)
# By (station, role): the serial index would scan every spell of a common serial ("" for
# the many devices that report none), and without statistics SQLite may pick it.
_END: Final = (
    "UPDATE asset_spells INDEXED BY spells_role SET end_at = MAX(?, start_at) "
    "WHERE station = ? AND role = ? AND vid = ? AND pid = ? AND serial = ? AND end_at IS NULL"
)


def _write(conn: sqlite3.Connection, batch: AssetBatch) -> None:
    # In order: a spell may begin and end within one batch.
    for s in batch.spells:
        d = s.device
        if s.end is None:
            conn.execute(_START, (s.station, s.site, s.role, d.vid, d.pid, d.serial,
                                  s.manufacturer, s.product, int(s.standin), s.start))
        else:
            conn.execute(_END, (s.end, s.station, s.role, d.vid, d.pid, d.serial))
    conn.executemany(
        "INSERT INTO asset_changes (station, site, role, kind, at, vid, pid, serial, old_vid, "
        "old_pid, old_serial) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [(c.station, c.site, c.role, c.kind, c.at, *_ids(c.device), *_ids(c.old))
         for c in batch.changes])
    conn.executemany(_UPSERT_REPAIR, [_repair_row(r) for r in batch.repairs])
    conn.executemany("DELETE FROM repairs WHERE id = ?", [(i,) for i in batch.dropped])
    conn.executemany(
        "INSERT INTO readiness (station, site, readiness, at) VALUES (?,?,?,?)",
        [(r.station, r.site, r.readiness, r.at) for r in batch.readiness])


def _ids(device: DeviceId | None) -> tuple[str | None, str | None, str | None]:
    if device is None:
        return (None, None, None)
    return (device.vid, device.pid, device.serial)


def _repair_row(r: Repair) -> Sequence[object]:
    return (r.id, r.station, r.site, r.role, r.unit, r.model.vid, r.model.pid, r.model.name,
            int(r.model.seen), r.last_serial, r.status, r.opened_at, r.closed_at, r.outcome)


def _edit(conn: sqlite3.Connection, repair_id: str, edit: RepairEdit, user: str,
          at: float) -> bool:
    sets = [(name, value) for name, value in (("ordered_at", edit.ordered_at),
                                              ("ticket", edit.ticket), ("note", edit.note))
            if value is not None]
    columns = ", ".join(f"{name} = ?" for name, _ in sets)
    sql = f"UPDATE repairs SET {columns + ', ' if columns else ''}updated_by = ?, updated_at = ? "
    done = conn.execute(sql + "WHERE id = ?", [*(v for _, v in sets), user, at, repair_id])
    return done.rowcount > 0


def _prune(conn: sqlite3.Connection, cutoff: float) -> int:
    deleted = conn.execute("DELETE FROM asset_spells WHERE end_at < ?", (cutoff,)).rowcount
    deleted += conn.execute("DELETE FROM asset_changes WHERE at < ?", (cutoff,)).rowcount
    deleted += conn.execute("DELETE FROM repairs WHERE closed_at < ?", (cutoff,)).rowcount
    # Keep each station's last row before the cutoff: it is the state the kept rows start from.
    deleted += conn.execute(
        "DELETE FROM readiness WHERE at < ? AND id NOT IN "
        "(SELECT MAX(id) FROM readiness WHERE at < ? GROUP BY station)", (cutoff, cutoff),
    ).rowcount
    return int(deleted)
