"""Per-site readiness: how many stations of each district are in which state."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from collector.registry import Registry
from collector.station import STATION_STATES, StationState, StationView


@dataclass(frozen=True, slots=True)
class SiteView:
    site: str
    name: str
    region: str
    registered: bool
    stations: Mapping[StationState, int]  # every state, 0 included
    ready: int
    total: int  # expected to work: registered active + unregistered reporting
    planned: int  # not reporting yet, rollout progress


@dataclass(slots=True)
class _Tally:
    counts: dict[StationState, int]
    ready: int = 0


def site_views(registry: Registry, stations: Iterable[StationView]) -> list[SiteView]:
    """One view per registered site plus one per unregistered site id seen, sorted by id."""
    tallies: dict[str, _Tally] = {
        site: _Tally(dict.fromkeys(STATION_STATES, 0)) for site in registry.sites
    }
    for view in stations:
        tally = tallies.get(view.site)
        if tally is None:
            tally = tallies[view.site] = _Tally(dict.fromkeys(STATION_STATES, 0))
        tally.counts[view.state] += 1
        tally.ready += view.ready
    return [_site_view(registry, site, tallies[site]) for site in sorted(tallies)]


def _site_view(registry: Registry, site: str, tally: _Tally) -> SiteView:
    info = registry.sites.get(site)
    planned = tally.counts["planned"]
    # A planned station that started reporting is simply online, so "planned"
    # in state is exactly "not expected to work yet".
    return SiteView(
        site=site,
        name=info.name if info is not None else site,
        region=info.region if info is not None else "",
        registered=info is not None,
        stations=MappingProxyType(tally.counts),
        ready=tally.ready,
        total=sum(tally.counts.values()) - planned,
        planned=planned,
    )
