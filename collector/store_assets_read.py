"""Reads of the asset database (blocking: call them in a thread, e.g. `asyncio.to_thread`).

Each call opens its own short-lived read-only connection, like the history
store's reads; WAL lets them run while the writer commits.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

from collector.assets import AssetChange, ChangeKind, DeviceId, RoleKey, Spell
from collector.errors import CollectorError
from collector.readiness import Readiness, ReadinessRow
from collector.repairs import Model, Outcome, Repair


class AssetStoreError(CollectorError):
    """The asset database cannot be opened, written or read; the message says where and why."""


_SPELL: Final = ("station, site, role, vid, pid, serial, manufacturer, product, standin, "
                 "start_at, end_at")
_REPAIR: Final = ("id, station, site, role, unit, model_vid, model_pid, model_name, model_seen, "
                  "last_serial, status, opened_at, closed_at, outcome, ordered_at, ticket, note")


@dataclass(frozen=True, slots=True)
class AssetRow:
    """One device identity in one (station, role), over all its spells."""

    station: str
    site: str
    role: str
    device: DeviceId
    manufacturer: str
    product: str
    standin: bool
    present: bool
    first_seen: float
    last_seen: float  # the end of its last spell; for a present one, its last start


@dataclass(frozen=True, slots=True)
class StoredState:
    """What the register, the repair tracker and the readiness tracker start from."""

    present: list[Spell]
    last_real: dict[RoleKey, Spell]
    open_repairs: list[Repair]
    last_readiness: dict[str, tuple[str, Readiness]]


@dataclass(frozen=True, slots=True)
class HistoryWindow:
    """Everything the reliability figures need for [start, end)."""

    readiness: list[ReadinessRow]  # oldest first; each station's last row before `start` too
    spells: list[Spell]  # overlapping the window
    repairs: list[Repair]  # opened or closed within it, or open across it


class AssetReader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            with closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)) as conn:
                return conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise AssetStoreError(f"cannot read asset database {self.path}: {exc}") from exc

    def state(self) -> StoredState:
        present = [_spell(r) for r in self._query(
            f"SELECT {_SPELL} FROM asset_spells WHERE end_at IS NULL ORDER BY id")]
        last_real: dict[RoleKey, Spell] = {}
        for row in self._query(f"SELECT {_SPELL} FROM asset_spells WHERE standin = 0 ORDER BY id"):
            spell = _spell(row)
            last_real[(spell.station, spell.role)] = spell  # later rows win
        repairs = [_repair(r) for r in self._query(
            f"SELECT {_REPAIR} FROM repairs WHERE closed_at IS NULL")]
        readiness = {row[0]: (row[1], cast(Readiness, row[2])) for row in self._query(
            "SELECT station, site, readiness FROM readiness WHERE id IN "
            "(SELECT MAX(id) FROM readiness GROUP BY station)")}
        return StoredState(present, last_real, repairs, readiness)

    def assets(self, site: str | None = None, station: str | None = None,
               role: str | None = None) -> list[AssetRow]:
        where, args = _filters([("site = ?", site), ("station = ?", station), ("role = ?", role)])
        rows = self._query(
            "SELECT station, site, role, vid, pid, serial, manufacturer, product, standin, "
            "MAX(end_at IS NULL), MIN(start_at), MAX(COALESCE(end_at, start_at)) "
            f"FROM (SELECT * FROM asset_spells{where} ORDER BY id) "
            "GROUP BY station, role, vid, pid, serial ORDER BY site, station, role, MIN(start_at)",
            args)
        return [AssetRow(r[0], r[1], r[2], DeviceId(r[3], r[4], r[5]), r[6], r[7], bool(r[8]),
                         bool(r[9]), r[10], r[11]) for r in rows]

    def serial_history(self, serial: str) -> list[Spell]:
        return [_spell(r) for r in self._query(
            f"SELECT {_SPELL} FROM asset_spells WHERE serial = ? ORDER BY start_at, id", (serial,))]

    def changes(self, station: str, limit: int = 50) -> list[AssetChange]:
        rows = self._query(
            "SELECT station, site, role, kind, at, vid, pid, serial, old_vid, old_pid, old_serial "
            "FROM asset_changes WHERE station = ? ORDER BY at DESC, id DESC LIMIT ?",
            (station, limit))
        return [AssetChange(r[0], r[1], r[2], cast(ChangeKind, r[3]), r[4], _device(r[5:8]),
                            _device(r[8:11])) for r in rows]

    def repairs(self, site: str | None = None, station: str | None = None,
                state: str | None = None) -> list[Repair]:
        """`state` "open" or "closed" (None: both), oldest first."""
        where, args = _filters([("site = ?", site), ("station = ?", station)])
        if state is not None:
            where += (" AND " if where else " WHERE ") + (
                "closed_at IS NULL" if state == "open" else "closed_at IS NOT NULL")
        return [_repair(r) for r in self._query(
            f"SELECT {_REPAIR} FROM repairs{where} ORDER BY opened_at, id", args)]

    def repair(self, repair_id: str) -> Repair | None:
        rows = self._query(f"SELECT {_REPAIR} FROM repairs WHERE id = ?", (repair_id,))
        return _repair(rows[0]) if rows else None

    def window(self, start: float, end: float) -> HistoryWindow:
        readiness = [ReadinessRow(r[0], r[1], cast(Readiness, r[2]), r[3]) for r in self._query(
            "SELECT station, site, readiness, at FROM readiness WHERE (at >= ? AND at < ?) "
            "OR id IN (SELECT MAX(id) FROM readiness WHERE at < ? GROUP BY station) "
            "ORDER BY at, id", (start, end, start))]
        spells = [_spell(r) for r in self._query(
            f"SELECT {_SPELL} FROM asset_spells WHERE start_at < ? "
            "AND (end_at IS NULL OR end_at > ?) ORDER BY id", (end, start))]
        repairs = [_repair(r) for r in self._query(
            f"SELECT {_REPAIR} FROM repairs WHERE opened_at < ? "
            "AND (closed_at IS NULL OR closed_at >= ?) ORDER BY opened_at, id", (end, start))]
        return HistoryWindow(readiness, spells, repairs)


def _filters(conditions: Iterable[tuple[str, object | None]]) -> tuple[str, list[object]]:
    used = [(clause, value) for clause, value in conditions if value is not None]
    if not used:
        return "", []
    return " WHERE " + " AND ".join(c for c, _ in used), [v for _, v in used]


def _spell(r: Sequence[Any]) -> Spell:
    return Spell(r[0], r[1], r[2], DeviceId(r[3], r[4], r[5]), r[6], r[7], bool(r[8]), r[9],
                 r[10])


def _device(ids: Sequence[Any]) -> DeviceId | None:
    return None if ids[0] is None else DeviceId(ids[0], ids[1], ids[2])


def _repair(r: Sequence[Any]) -> Repair:
    return Repair(r[0], r[1], r[2], r[3], r[4], Model(r[5], r[6], r[7], bool(r[8])), r[9], r[11],
                  r[10], closed_at=r[12], outcome=cast(Outcome | None, r[13]), ordered_at=r[14],
                  ticket=r[15], note=r[16], listed=True)
