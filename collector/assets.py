"""The asset register's core: which device serves each (station, role), and since when.

Pure: the caller hands in a station's components whenever they changed (the
Fleet keeps the same tuple while nothing changed, so this runs per change, not
per heartbeat) and gets back what to write: spells (a device in a role from
`start` to `end`, open while present) and change records (install, removal,
swap). Only what differs from what the register already holds produces a
record, so a collector restart over retained heartbeats writes nothing new.

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


@dataclass(slots=True)
class _Role:
    current: Spell | None = None  # the device serving the role now
    last: DeviceId | None = None  # the device the role had last, present or not
    last_real: Spell | None = None  # the last device that was not a stand-in
    status: str = ""


def device_id(device: wire.Device) -> DeviceId:
    return DeviceId(device.vid, device.pid, device.serial)


class AssetRegister:
    def __init__(self) -> None:
        self._roles: dict[RoleKey, _Role] = {}

    def restore(self, present: Iterable[Spell], last_real: Mapping[RoleKey, Spell]) -> None:
        """What the store holds: the open spells and each role's last real device."""
        for spell in present:
            role = self._role((spell.station, spell.role))
            role.current, role.last = spell, spell.device
        for key, spell in last_real.items():
            self._role(key).last_real = spell

    def observe(
        self, station: str, site: str, components: Iterable[wire.Component], ts: float
    ) -> AssetOps:
        ops = AssetOps()
        for c in components:
            self._observe_role(station, site, c, ts, ops)
        return ops

    def last_real(self, station: str, role: str) -> Spell | None:
        """The last device in the role that was not a stand-in (the model to order)."""
        state = self._roles.get((station, role))
        return state.last_real if state is not None else None

    def current(self, station: str, role: str) -> Spell | None:
        state = self._roles.get((station, role))
        return state.current if state is not None else None

    def _role(self, key: RoleKey) -> _Role:
        role = self._roles.get(key)
        if role is None:
            role = self._roles[key] = _Role()
        return role

    def _observe_role(
        self, station: str, site: str, c: wire.Component, ts: float, ops: AssetOps
    ) -> None:
        role = self._role((station, c.id))
        at = ts if role.status == c.status else c.since
        role.status = c.status
        now_id = device_id(c.device) if c.device is not None else None
        current = role.current
        if current is not None and current.device == now_id and current.site == site:
            return  # the usual case: nothing moved in this role
        if current is not None:
            ops.spells.append(_ended(current, at))
            role.current = None
        if c.device is None:
            if current is not None:
                ops.changes.append(AssetChange(station, site, c.id, "removal", at, None,
                                               current.device))
            return
        spell = role.current = _spell(station, site, c, at)
        ops.spells.append(spell)
        if not spell.standin:
            role.last_real = spell
        self._record_arrival(role, spell, ops)

    @staticmethod
    def _record_arrival(role: _Role, spell: Spell, ops: AssetOps) -> None:
        old, role.last = role.last, spell.device
        if old == spell.device:
            return  # the same unit back (or moved to a new site): a new spell, no change
        kind: ChangeKind = "install" if old is None else "swap"
        ops.changes.append(AssetChange(spell.station, spell.site, spell.role, kind,
                                       spell.start, spell.device, old))


def _spell(station: str, site: str, c: wire.Component, start: float) -> Spell:
    d = c.device
    assert d is not None
    return Spell(station, site, c.id, device_id(d), d.manufacturer, d.product,
                 c.standin is True, start)


def _ended(spell: Spell, at: float) -> Spell:
    return Spell(spell.station, spell.site, spell.role, spell.device, spell.manufacturer,
                 spell.product, spell.standin, spell.start, max(at, spell.start))
