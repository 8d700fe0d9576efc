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
from collector.station import STATION_STATES, StationView
from collector.station_metrics import (
    CACHED_FAMILIES,
    LIVE_FAMILIES,
    STATION_FAMILIES,
    UP_COLUMN,
    Columns,
    StationFragments,
    label_of,
    live_lines,
)
from collector.stats import (
    INGESTED_KINDS,
    REJECT_REASONS,
    IngestStats,
    RegistryStats,
    StoreStats,
)
from collector.store import STORE_OPS

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
_KEPT: Final = Family(
    "pantau_collector_rejected_events_stored_total", "counter",
    "Events refused by this collector (version, schema) but stored with their payload and "
    "acked; after an upgrade, pantau-collector replay-rejected adds them to the history.",
)
_GAPS: Final = Family(
    "pantau_collector_history_gaps_total", "counter",
    "Times a station's events skipped seqs this collector never received and the agent "
    "no longer holds (another replica acked them while this one was away, or the agent's "
    "bounds dropped them): a hole in this collector's history.",
)
_GAP_EVENTS: Final = Family(
    "pantau_collector_history_gap_events_total", "counter",
    "Events missing from this collector's history through those gaps.",
)
_STORE_ERRORS: Final = Family(
    "pantau_collector_store_errors_total", "counter",
    "History database operations that failed (disk full, I/O error, cannot open), by op.",
)
_STORE_RESETS: Final = Family(
    "pantau_collector_store_resets_total", "counter",
    "Corrupt history databases set aside (renamed .corrupt-<time>) and started afresh.",
)
_STORE_DROPPED: Final = Family(
    "pantau_collector_store_dropped_rows_total", "counter",
    "State-change rows dropped because the history backlog was full (events are deferred).",
)
_STORE_PENDING: Final = Family(
    "pantau_collector_store_pending_rows", "gauge", "Rows waiting to be committed to history.",
)
_REGISTRY_OK: Final = Family(
    "pantau_collector_registry_reload_success", "gauge",
    "1 if the last load of the fleet registry (start or SIGHUP) succeeded, else 0.",
)
_REGISTRY_AT: Final = Family(
    "pantau_collector_registry_last_reload_timestamp_seconds", "gauge",
    "When the fleet registry was last loaded successfully.",
)
_BUILD: Final = Family(
    "pantau_build_info", "gauge", "The collector's version and source revision; always 1."
)
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
    def __init__(self, version: str, revision: str = "unknown") -> None:
        labels = f'version="{escape_label(version)}",revision="{escape_label(revision)}"'
        self._build = f"{_BUILD.header}pantau_build_info{{{labels}}} 1\n".encode()
        # Slot i of every column, and _frags[i], belong to the record _order[i].
        self._order: list[StationView] = []
        self._frags: list[StationFragments] = []
        self._columns: Columns = [[] for _ in CACHED_FAMILIES]
        self._layout = [
            (family.header.encode(), CACHED_FAMILIES.index(family) if family in CACHED_FAMILIES
             else -1 - LIVE_FAMILIES.index(family))
            for family in STATION_FAMILIES
        ]
        self._sites = b""
        self._registry: object = None  # the registry _sites was rendered with
        self._fleet_key: tuple[int, int] = (-1, -1)

    def render(self, fleet: Fleet, stats: IngestStats, process: ProcessSample | None,
               extra: bytes = b"") -> bytes:
        """The whole exposition as one body (tests, the gzip of small fleets)."""
        return b"".join(self.render_pieces(fleet, stats, process, extra))

    def render_pieces(self, fleet: Fleet, stats: IngestStats, process: ProcessSample | None,
                      extra: bytes = b"") -> list[bytes]:
        """The exposition as the byte pieces it is made of, in order, for a vectored send.

        No join: at national scale the text is tens of MB, and the cached
        per-station lines are sent from where they are kept. `extra` (whole
        families, e.g. the opening-hours rows) goes after the site rollups.
        """
        key = (id(fleet), fleet.shape_generation)  # the live families are rendered anyway
        if key != self._fleet_key:
            # The site rollup reads every station: redo it only when a state,
            # a readiness input, the station set or the registry changed.
            if self._refresh(fleet.stations()) or fleet.registry is not self._registry:
                self._sites = _sites_text(fleet).encode()
                self._registry = fleet.registry
            self._fleet_key = key
        labs = [label_of(up) for up in self._columns[UP_COLUMN]]
        live = live_lines(self._order, labs)
        parts: list[bytes] = []
        for header, at in self._layout:  # families in contract order, cached or live
            parts.append(header)
            if at >= 0:
                parts += self._columns[at]
            else:
                parts += live[-1 - at]
        own = _process_text(process) if process is not None else ""
        parts += [self._sites, extra, _collector_text(stats).encode(), self._build,
                  own.encode()]
        return parts

    def _refresh(self, facts: list[StationView]) -> bool:
        """Bring the cached columns up to date; True if any station's state or readiness moved."""
        moved = facts != self._order  # a station came, went or moved: new slots
        if moved:
            self._reslot(facts)
        all_frags, columns = self._frags, self._columns
        # Most heartbeats move only the live figures: one C-speed pass finds the rest.
        stale = [slot for slot, (station, frags) in enumerate(zip(facts, all_frags, strict=True))
                 if station.shape_version != frags.version]
        for slot in stale:
            station, frags = facts[slot], all_frags[slot]
            if frags.site != station.site:  # moved without changing the order: new labels
                frags = all_frags[slot] = StationFragments(station)
            moved = frags.refresh(station, columns, slot) or moved
        return moved

    def _reslot(self, facts: Sequence[StationView]) -> None:
        """Lay the columns out in the fleet's order, keeping every fragment still valid."""
        old_columns = self._columns
        old = {frags.station: (slot, frags) for slot, frags in enumerate(self._frags)}
        columns: Columns = [[b""] * len(facts) for _ in CACHED_FAMILIES]
        all_frags: list[StationFragments] = []
        for slot, station in enumerate(facts):
            was, frags = old.get(station.station, (-1, None))
            if frags is None or frags.site != station.site:
                frags = StationFragments(station)  # new labels: render it all again
            elif frags.version >= 0:
                for new_column, old_column in zip(columns, old_columns, strict=True):
                    new_column[slot] = old_column[was]
            all_frags.append(frags)
        self._frags, self._columns, self._order = all_frags, columns, list(facts)


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
        for k in INGESTED_KINDS
    )
    out.append(_REJECTED.header)
    out.extend(
        line("pantau_collector_rejected_messages_total", f'reason="{r}"', stats.rejected[r])
        for r in REJECT_REASONS
    )
    out.append(f"{_BROKER.header}pantau_collector_broker_connected {num(stats.broker_connected)}\n")
    out.append(f"{_KEPT.header}{_KEPT.name} {stats.rejected_events_stored}\n")
    out.append(f"{_GAPS.header}{_GAPS.name} {stats.history_gaps}\n")
    out.append(f"{_GAP_EVENTS.header}{_GAP_EVENTS.name} {stats.history_gap_events}\n")
    return "".join(out) + _store_text(stats.store) + _registry_text(stats.registry)


def _store_text(store: StoreStats) -> str:
    out = [_STORE_ERRORS.header]
    out.extend(line(_STORE_ERRORS.name, f'op="{op}"', store.errors[op]) for op in STORE_OPS)
    out.extend(f"{family.header}{family.name} {value}\n" for family, value in (
        (_STORE_RESETS, store.resets), (_STORE_DROPPED, store.dropped_rows),
        (_STORE_PENDING, store.pending_rows),
    ))
    return "".join(out)


def _registry_text(registry: RegistryStats) -> str:
    if not registry.configured:  # no registry: nothing to reload, nothing to alert on
        return ""
    out = f"{_REGISTRY_OK.header}{_REGISTRY_OK.name} {num(registry.last_load_ok)}\n"
    if registry.last_success_ts is not None:
        out += f"{_REGISTRY_AT.header}{_REGISTRY_AT.name} {num(registry.last_success_ts)}\n"
    return out


def _process_text(sample: ProcessSample) -> str:
    values = (
        sample.cpu_seconds_total, sample.resident_memory_bytes, sample.virtual_memory_bytes,
        sample.open_fds, sample.max_fds, sample.start_time_seconds,
    )
    return "".join(
        f"{family.header}{family.name} {num(value)}\n"
        for family, value in zip(_PROCESS, values, strict=True)
    )
