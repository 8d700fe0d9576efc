"""Repair records: when a required part went missing or failed, and when it came back. Pure.

A record opens when a required role becomes `missing` or `failed`, or is found
on a stand-in (a stand-in keeps the office enrolling, but the part is still
away). It closes when the role is ok again with a device that is not a
stand-in: `restored` (the unit that left, by serial), `replaced` (another
serial) or `unknown` (the device has no serial, or no unit can be compared).
A part back within `min_open_s` of going is no repair: the record is dropped
and never listed. Until it has been open that long (by this collector's
clock) a record is pending: kept here, not written, not listed.

Roles with `count > 1`: one record per missing unit, numbered 1, 2, …; the
heartbeat says how many units are absent (`missing_units`), not which, so a
unit coming back closes the newest record, and records of units after the
first close as `unknown`.

Ids are derived from (station, role, opened_at) — plus the unit after the
first — and `opened_at` is the station's `since`, so collector replicas that
saw the same heartbeats give a repair the same id.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from collector.assets import RoleKey, Spell
from pantau import wire

Outcome = Literal["replaced", "restored", "unknown"]
OUTCOMES: Final[tuple[Outcome, ...]] = ("replaced", "restored", "unknown")
# What the role is now: missing / failed / on a stand-in while open, ok once closed.
PART_STATUSES: Final = ("missing", "failed", "standin", "ok")
DEFAULT_MIN_OPEN_S: Final = 120.0  # like PantauComponentMissing's `for: 2m`


@dataclass(frozen=True, slots=True)
class Model:
    vid: str  # "" when nothing says which model the role takes
    pid: str
    name: str
    seen: bool  # a device of this model served the role (not only the config's expectation)

    @property
    def label(self) -> str:
        """ "080b:0002 Cross Match Fingerprint Scanner", or "" when unknown."""
        return " ".join(p for p in (f"{self.vid}:{self.pid}" if self.vid else "", self.name) if p)


NO_MODEL: Final = Model("", "", "", False)


@dataclass(slots=True)
class Repair:
    id: str
    station: str
    site: str
    role: str
    unit: int
    model: Model
    last_serial: str | None  # the serial of the unit that went; None when never seen
    opened_at: float
    status: str
    closed_at: float | None = None
    outcome: Outcome | None = None
    ordered_at: float | None = None
    ticket: str = ""
    note: str = ""
    noticed_at: float = 0.0  # this collector's clock, for min_open_s
    listed: bool = False  # written to the store and shown


@dataclass(slots=True)
class RepairOps:
    upserts: list[Repair] = field(default_factory=list)  # snapshots, safe to hand to a thread
    deletes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.upserts or self.deletes)

    def extend(self, other: RepairOps) -> None:
        self.upserts += other.upserts
        self.deletes += other.deletes


def repair_id(station: str, role: str, opened_at: float, unit: int = 1) -> str:
    key = f"{station}/{role}/{opened_at!r}" + (f"/{unit}" if unit > 1 else "")
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def units_needed(c: wire.Component) -> int | None:
    """Open records the role calls for; None: cannot tell (the probe could not look)."""
    if not c.required:
        return 0
    if c.status == "unknown":
        return None
    if c.status == "missing":
        return c.missing_units if isinstance(c.missing_units, int) else 1
    return 1 if c.status == "failed" or c.standin is True else 0


def part_status(c: wire.Component) -> str:
    return "standin" if c.status == "ok" and c.standin is True else c.status


# The role's last device that was not a stand-in (collector.assets.AssetRegister.last_real).
LastReal = Callable[[wire.Component], Spell | None]


class RepairTracker:
    def __init__(self, min_open_s: float = DEFAULT_MIN_OPEN_S) -> None:
        self.min_open_s = min_open_s
        self._open: dict[RoleKey, list[Repair]] = {}  # only roles with a repair: per fault
        self._by_id: dict[str, Repair] = {}

    def restore(self, records: Iterable[Repair]) -> None:
        """Open records from the store (listed, oldest unit first)."""
        for rec in sorted(records, key=lambda r: (r.station, r.role, r.unit)):
            self._open.setdefault((rec.station, rec.role), []).append(rec)
            self._by_id[rec.id] = rec

    def observe(self, station: str, site: str, old: Iterable[wire.Component] | None,
                new: Iterable[wire.Component], ts: float, now: float,
                last_real: LastReal) -> RepairOps:
        """`old`: the station's previous components (None: the first set since start)."""
        before = {c.id: c.status for c in old} if old is not None else {}
        ops = RepairOps()
        for c in new:
            at = ts if before.get(c.id) == c.status else c.since
            need = units_needed(c)
            if need is not None:
                self._settle((station, c.id), site, c, need, at, now, last_real, ops)
        return ops

    def tick(self, now: float) -> RepairOps:
        """List the records that have been open `min_open_s` by now."""
        ops = RepairOps()
        for records in self._open.values():
            for rec in records:
                if not rec.listed and now - rec.noticed_at >= self.min_open_s:
                    rec.listed = True
                    ops.upserts.append(dataclasses.replace(rec))
        return ops

    def open_for(self, station: str, role: str) -> Repair | None:
        records = self._open.get((station, role))
        return records[0] if records else None

    def find(self, repair_id: str) -> Repair | None:
        return self._by_id.get(repair_id)

    def take_edit(self, repair_id: str, stored: Repair) -> None:
        """What a person set on a record (as stored), so the parts report shows it at once."""
        rec = self._by_id.get(repair_id)
        if rec is not None:
            rec.ordered_at, rec.ticket, rec.note = stored.ordered_at, stored.ticket, stored.note

    def listed_open(self) -> list[Repair]:
        """The open records shown (open `min_open_s` or more), oldest first."""
        return sorted((r for records in self._open.values() for r in records if r.listed),
                      key=lambda r: (r.opened_at, r.station, r.role, r.unit))

    def open_by_site(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for records in self._open.values():
            for rec in records:
                if rec.listed:
                    counts[rec.site] = counts.get(rec.site, 0) + 1
        return counts

    def _settle(self, key: RoleKey, site: str, c: wire.Component, need: int, at: float,
                now: float, last_real: LastReal, ops: RepairOps) -> None:
        records = self._open.setdefault(key, [])
        while len(records) > need:  # the newest first: the heartbeat does not say which unit
            rec = records.pop()
            self._close(rec, at, _outcome(rec, c) if need == 0 else "unknown", ops)
        while len(records) < need:
            records.append(self._new(key, site, c, len(records) + 1, at, now, last_real))
        status = part_status(c)
        for rec in records:
            if rec.status != status:
                rec.status = status
                if rec.listed:
                    ops.upserts.append(dataclasses.replace(rec))
        if not records:
            del self._open[key]

    def _new(self, key: RoleKey, site: str, c: wire.Component, unit: int, at: float,
             now: float, last_real: LastReal) -> Repair:
        station, role = key
        spell = last_real(c)
        if spell is not None:
            model = Model(spell.device.vid, spell.device.pid, spell.name, True)
        elif c.expected:
            first = c.expected[0]
            model = Model(first.vid, first.pid, first.name, False)
        else:
            model = NO_MODEL
        rec = Repair(repair_id(station, role, at, unit), station, site, role, unit, model,
                     spell.device.serial if spell is not None else None, at, part_status(c),
                     noticed_at=now)
        self._by_id[rec.id] = rec
        return rec

    def _close(self, rec: Repair, at: float, outcome: Outcome, ops: RepairOps) -> None:
        self._by_id.pop(rec.id, None)
        rec.closed_at, rec.outcome, rec.status = max(at, rec.opened_at), outcome, "ok"
        if rec.closed_at - rec.opened_at < self.min_open_s:
            if rec.listed:  # listed early (this collector saw it late), then back quickly
                ops.deletes.append(rec.id)
            return
        rec.listed = True
        ops.upserts.append(dataclasses.replace(rec))


def _outcome(rec: Repair, c: wire.Component) -> Outcome:
    device = c.device
    if not c.required or rec.unit > 1 or device is None or not device.serial:
        return "unknown"
    return "restored" if device.serial == rec.last_serial else "replaced"
