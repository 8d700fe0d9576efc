"""/metrics: the fleet, the collector itself and this process, as Prometheus text.

Rendered straight from state. Each station's lines are cached per family
(`station_metrics.StationFragments`) and keyed by `StationView.version`, so an
unchanged station costs a dict lookup; the families stay grouped (one HELP and
TYPE each, all samples contiguous) by joining the per-station fragments column
by column. No I/O happens here: the process figures come from the app's last
`process_metrics.sample()`.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Final

from collector.exposition_text import Family, escape_label, line, num
from collector.fleet import Fleet
from collector.process_metrics import ProcessSample
from collector.station import STATION_STATES
from collector.station_metrics import STATION_FAMILIES, StationFragments
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
        self._cache: dict[str, StationFragments] = {}
        self._headers = [family.header.encode() for family in STATION_FAMILIES]
        self._fleet_parts: list[bytes] = []
        self._fleet_key: tuple[int, int] = (-1, -1)

    def render(self, fleet: Fleet, stats: IngestStats, process: ProcessSample | None) -> bytes:
        key = (id(fleet), fleet.generation)
        if key != self._fleet_key:
            self._fleet_parts = self._station_parts(fleet)
            self._fleet_parts.append(_sites_text(fleet).encode())
            self._fleet_key = key
        own = _process_text(process) if process is not None else ""
        # One join over pre-encoded fragments: at national scale the text is
        # tens of MB and every extra copy costs milliseconds.
        return b"".join(
            [*self._fleet_parts, _collector_text(stats).encode(), self._build, own.encode()]
        )

    def _station_parts(self, fleet: Fleet) -> list[bytes]:
        cache = self._cache
        rows: list[tuple[bytes, ...]] = []
        facts = fleet.station_facts()
        for station in facts:
            frags = cache.get(station.station)
            if frags is None or frags.site != station.site:
                frags = cache[station.station] = StationFragments(station)
            rows.append(frags.refresh(station))
        if len(cache) > len(facts):  # stations retired or removed since last time
            self._cache = {f.station: cache[f.station] for f in facts}
        parts: list[bytes] = []
        for index, header in enumerate(self._headers):
            parts.append(header)
            parts.extend(map(itemgetter(index), rows))
        return parts


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
