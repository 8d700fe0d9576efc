"""Readiness history: when each station could enroll, as the collector saw it. Pure.

A row per change of a station's readiness: `ready` (online, reported, every
required part ok — a stand-in counts as ok), `down` (expected to work but not
ready: offline, lost, stale, never seen, or a required part missing or
failed) and `excluded` (planned, or gone from the fleet: not expected to
work). Availability is computed from these rows; the times are this
collector's clock, the one that also decides `stale`.

Only stations that may have changed are looked at (a state transition or a
new component set), and a row is written only when the readiness differs
from the last one, so this costs per change, never per heartbeat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from collector.station import StationView

Readiness = Literal["ready", "down", "excluded"]
READINESS: Final[tuple[Readiness, ...]] = ("ready", "down", "excluded")


@dataclass(frozen=True, slots=True)
class ReadinessRow:
    station: str
    site: str
    readiness: Readiness
    at: float


def readiness_of(view: StationView | None) -> Readiness:
    if view is None or view.state == "planned":
        return "excluded"
    return "ready" if view.ready else "down"


Lookup = Callable[[str], "StationView | None"]


class ReadinessTracker:
    def __init__(self) -> None:
        self._last: dict[str, tuple[str, Readiness]] = {}  # station -> (site, readiness)
        self._pairs: dict[tuple[str, Readiness], tuple[str, Readiness]] = {}  # one per value

    def restore(self, last: Mapping[str, tuple[str, Readiness]]) -> None:
        """The last row of each station in the store."""
        for station, pair in last.items():
            self._last[station] = self._pairs.setdefault(pair, pair)

    def update(self, station_ids: Iterable[str], lookup: Lookup, now: float) -> list[ReadinessRow]:
        """Rows for the stations among `station_ids` whose readiness (or site) moved."""
        rows = []
        for station in station_ids:
            view = lookup(station)
            readiness = readiness_of(view)
            site = view.site if view is not None else self._last.get(station, ("", ""))[0]
            if self._last.get(station) != (site, readiness):
                if view is None and station not in self._last:
                    continue  # never seen here, gone again: nothing to say
                pair = (site, readiness)
                self._last[station] = self._pairs.setdefault(pair, pair)
                rows.append(ReadinessRow(station, site, readiness, now))
        return rows

    def everything(self, station_ids: Iterable[str], lookup: Lookup,
                   now: float) -> list[ReadinessRow]:
        """A full pass: the given stations (the whole fleet) and every one the history knows."""
        return self.update({*station_ids, *self._last}, lookup, now)
