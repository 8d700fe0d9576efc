"""/metrics: the fleet, the collector itself and this process, as Prometheus text.

Rendered straight from state. Each station's lines are cached as bytes in
per-family columns (`station_metrics`), refreshed only where the station's
`version` moved and only for the parts that changed, so the families stay
grouped (one HELP and TYPE each, all samples contiguous) and a scrape is one
join over the columns. No I/O happens here: the process figures come from the
app's last `process_metrics.sample()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from collector.exposition_text import Family, escape_label, line, num
from collector.fleet import Fleet
from collector.process_metrics import ProcessSample
from collector.station import STATION_STATES, StationFacts
from collector.station_metrics import STATION_FAMILIES, Columns, StationFragments
from collector.stats import MESSAGE_KINDS, REJECT_REASONS, IngestStats

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

_SITE_STATIONS: Final = Family(
    "pantau_site_stations", "gauge", "Stations of the site in each state."
)
_SITE_READY: Final = Family(
    "pantau_site_stations_ready", "gauge",
    "Stations of the site that are up with every required component ok.",
)
_MESSAGES: Final = Family(
    "pantau_collector_messages_total", "counter", "Station messages accepted, by kind."
)
_REJECTED: Final = Family(
    "pantau_collector_rejected_messages_total", "counter",
    "Station messages refused, by reason.",
)
_BROKER: Final = Family(
    "pantau_collector_broker_connected", "gauge", "1 while the collector holds its broker session."
)
_BUILD: Final = Family("pantau_build_info", "gauge", "The collector's version; always 1.")
_PROCESS: Final = (
    Family(
        "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds."
    ),
    Family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes."),
    Family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes."),
    Family("process_open_fds", "gauge", "Number of open file descriptors."),
    Family("process_max_fds", "gauge", "Maximum number of open file descriptors."),
    Family(
        "process_start_time_seconds", "gauge",
        "Start time of the process since unix epoch in seconds.",
    ),
)


class MetricsRenderer:
    def __init__(self, version: str) -> None:
        self._build = (
            f'{_BUILD.header}pantau_build_info{{version="{escape_label(version)}"}} 1\n'
        ).encode()
        self._headers = [family.header.encode() for family in STATION_FAMILIES]
        self._cache: dict[str, StationFragments] = {}
        self._order: list[StationFacts] = []  # the records the column slots belong to
        self._columns: Columns = [[] for _ in STATION_FAMILIES]
        self._sites = b""
        self._fleet_key: tuple[int, int] = (-1, -1)

    def render(self, fleet: Fleet, stats: IngestStats, process: ProcessSample | None) -> bytes:
        key = (id(fleet), fleet.generation)
        if key != self._fleet_key:
            self._refresh(fleet.station_facts())
            self._sites = _sites_text(fleet).encode()
            self._fleet_key = key
        parts: list[bytes] = []
        for header, column in zip(self._headers, self._columns, strict=True):
            parts.append(header)
            parts += column
        own = _process_text(process) if process is not None else ""
        parts += [self._sites, _collector_text(stats).encode(), self._build, own.encode()]
        # One join over pre-encoded fragments: at national scale the text is
        # tens of MB and every extra copy costs milliseconds.
        return b"".join(parts)

    def _refresh(self, facts: list[StationFacts]) -> None:
        if facts != self._order:  # a station came, went or moved: new slots
            self._reslot(facts)
        cache, columns = self._cache, self._columns
        for station in facts:
            frags = cache[station.station]
            if frags.site != station.site:  # moved without changing the order: new labels
                slot, frags = frags.slot, StationFragments(station)
                frags.slot, cache[station.station] = slot, frags
            frags.refresh(station, columns)

    def _reslot(self, facts: Sequence[StationFacts]) -> None:
        """Lay the columns out in the fleet's order, keeping every fragment still valid."""
        old_cache, old_columns = self._cache, self._columns
        cache: dict[str, StationFragments] = {}
        columns: Columns = [[b""] * len(facts) for _ in STATION_FAMILIES]
        for slot, station in enumerate(facts):
            frags = old_cache.get(station.station)
            if frags is None or frags.site != station.site:
                frags = StationFragments(station)  # its labels change: render it all again
            elif frags.version >= 0:
                for new, old in zip(columns, old_columns, strict=True):
                    new[slot] = old[frags.slot]
            frags.slot = slot
            cache[station.station] = frags
        self._cache, self._columns, self._order = cache, columns, list(facts)


def _sites_text(fleet: Fleet) -> str:
    stations: list[str] = [_SITE_STATIONS.header]
    ready: list[str] = [_SITE_READY.header]
    for site in fleet.sites():
        lab = f'site="{escape_label(site.site)}"'
        stations.extend(
            line("pantau_site_stations", f'{lab},state="{s}"', site.stations.get(s, 0))
            for s in STATION_STATES
        )
        ready.append(line("pantau_site_stations_ready", lab, site.ready))
    return "".join(stations) + "".join(ready)


def _collector_text(stats: IngestStats) -> str:
    out = [_MESSAGES.header]
    out.extend(
        line("pantau_collector_messages_total", f'kind="{k}"', stats.messages[k])
        for k in MESSAGE_KINDS
    )
    out.append(_REJECTED.header)
    out.extend(
        line("pantau_collector_rejected_messages_total", f'reason="{r}"', stats.rejected[r])
        for r in REJECT_REASONS
    )
    out.append(f"{_BROKER.header}pantau_collector_broker_connected {num(stats.broker_connected)}\n")
    return "".join(out)


def _process_text(sample: ProcessSample) -> str:
    values = (
        sample.cpu_seconds_total, sample.resident_memory_bytes, sample.virtual_memory_bytes,
        sample.open_fds, sample.max_fds, sample.start_time_seconds,
    )
    return "".join(
        f"{family.header}{family.name} {num(value)}\n"
        for family, value in zip(_PROCESS, values, strict=True)
    )
