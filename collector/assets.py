"""The asset register's core: which device serves each (station, role), and since when.

Pure: the caller hands in a station's previous and new component sets whenever
they changed (the Fleet keeps the same tuple while nothing changed, so this
runs per change, not per heartbeat) and gets back what to write: spells (a
device in a role from `start` to `end`, open while present) and change records
(install, removal, swap). What a role holds now is read from the component set
itself, which the fleet keeps anyway: the register remembers a device only
while its role is away (missing, or on a stand-in), so its memory is per fault,
not per station. After a restart it starts from the store's open spells, and a
retained heartbeat that shows the same devices writes nothing.

Times are the station's clock, as the heartbeat says them: a change that came
with a new status happened at the component's `since`; one without (a unit
swapped while the role stayed ok) at the heartbeat's `ts`, which the agent
sends at once after any change. Both are the same on every collector replica.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from pantau import wire

ChangeKind = Literal["install", "removal", "swap"]
CHANGE_KINDS: Final[tuple[ChangeKind, ...]] = ("install", "removal", "swap")
RoleKey = tuple[str, str]  # (station, role)
Components = tuple[wire.Component, ...]


@dataclass(frozen=True, slots=True)
class DeviceId:
    """What tells one unit from another: a device without a serial is known by model only."""

    vid: str
    pid: str
    serial: str


@dataclass(frozen=True, slots=True)
class Spell:
    """One device serving one role of one station, from `start` to `end` (None: present)."""

    station: str
    site: str
    role: str
    device: DeviceId
    manufacturer: str
    product: str
    standin: bool
    start: float
    end: float | None = None

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.manufacturer, self.product) if p)


@dataclass(frozen=True, slots=True)
class AssetChange:
    station: str
    site: str
    role: str
    kind: ChangeKind
    at: float
    device: DeviceId | None  # None for a removal
    old: DeviceId | None  # None for an install


@dataclass(slots=True)
class AssetOps:
    """What observations changed, in order: spells begun (no `end`) or ended, change records."""

    spells: list[Spell] = field(default_factory=list)
    changes: list[AssetChange] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.spells or self.changes)

    @property
    def started(self) -> list[Spell]:
        return [s for s in self.spells if s.end is None]

    @property
    def ended(self) -> list[Spell]:
        return [s for s in self.spells if s.end is not None]


def device_id(device: wire.Device) -> DeviceId:
    return DeviceId(device.vid, device.pid, device.serial)


def spell_of(station: str, site: str, c: wire.Component, start: float) -> Spell | None:
    d = c.device
    if d is None:
        return None
    return Spell(station, site, c.id, device_id(d), d.manufacturer, d.product,
                 c.standin is True, start)


class AssetRegister:
    def __init__(self) -> None:
        # Per station, until its first observation: what the store says each role held.
        self._stored: dict[str, dict[str, Spell]] = {}
        self._stored_real: dict[RoleKey, Spell] = {}
        # Roles that lost their real device (missing, or on a stand-in): that device.
        self._away: dict[RoleKey, Spell] = {}
        # Roles whose device is gone: the last one, to tell a swap from an install.
        self._gone: dict[RoleKey, DeviceId] = {}
        # Roles the probe cannot see (`unknown`): the device they had, still theirs.
        self._held: dict[RoleKey, Spell] = {}

    def restore(self, present: Iterable[Spell], last_real: Mapping[RoleKey, Spell]) -> None:
        """What the store holds: the open spells and each role's last real device."""
        for spell in present:
            self._stored.setdefault(spell.station, {})[spell.role] = spell
        self._stored_real.update(last_real)

    def observe(self, station: str, site: str, old: Components | None, new: Components,
                ts: float) -> AssetOps:
        """`old`: the station's previous components (None: the first set since start).

        A spell keeps the site it began at: a station moved to another site in the
        registry starts new spells there with its next change of parts.
        """
        ops = AssetOps()
        stored = self._stored.pop(station, {})
        before = {c.id: c for c in old} if old is not None else {}
        for c in new:
            prev_c = before.pop(c.id, None)
            if old is not None:
                prev = spell_of(station, site, prev_c, prev_c.since) if prev_c else None
                at = ts if prev_c is not None and prev_c.status == c.status else c.since
            else:
                prev, at = stored.get(c.id), c.since
            self._observe_role(station, site, prev, c, at, ops)
        for prev_c in before.values():  # a role no longer in the station's config
            gone = spell_of(station, site, prev_c, prev_c.since)
            if gone is not None:
                ops.spells.append(_ended(gone, ts))
        return ops

    def last_real(self, station: str, c: wire.Component) -> Spell | None:
        """The role's last device that was not a stand-in (the model to order): its own
        device if it has a real one now, else the one it lost."""
        if c.device is not None and c.standin is not True:
            return spell_of(station, "", c, c.since)
        key = (station, c.id)
        return self._away.get(key) or self._stored_real.get(key)

    def _observe_role(self, station: str, site: str, prev: Spell | None, c: wire.Component,
                      at: float, ops: AssetOps) -> None:
        key = (station, c.id)
        if c.status == "unknown":  # the probe could not look: no news about the device
            if prev is not None:
                self._held[key] = prev
            return
        if prev is None:
            prev = self._held.pop(key, None)
        now_id = device_id(c.device) if c.device is not None else None
        if prev is not None and prev.device == now_id:
            return  # nothing moved in this role (another role of the station did)
        if prev is not None:
            ops.spells.append(_ended(prev, at))
            if not prev.standin:
                self._away[key] = prev
        spell = spell_of(station, site, c, at)
        if spell is None:
            if prev is not None:
                self._gone[key] = prev.device
                ops.changes.append(AssetChange(station, site, c.id, "removal", at, None,
                                               prev.device))
            return
        ops.spells.append(spell)
        old = prev.device if prev is not None else self._gone.pop(key, None)
        if old is None and key in self._stored_real:
            old = self._stored_real[key].device
        if not spell.standin:
            self._away.pop(key, None)
            self._stored_real.pop(key, None)
        self._gone.pop(key, None)
        if old != spell.device:
            kind: ChangeKind = "install" if old is None else "swap"
            ops.changes.append(AssetChange(station, site, c.id, kind, at, spell.device, old))


def _ended(spell: Spell, at: float) -> Spell:
    return Spell(spell.station, spell.site, spell.role, spell.device, spell.manufacturer,
                 spell.product, spell.standin, spell.start, max(at, spell.start))
