"""Per-station /metrics fragments, cached by what they depend on.

Every station contributes one fragment (possibly empty, possibly several
lines) to each family in `STATION_FAMILIES`. The fragments live, as bytes, in
per-family columns (`Columns`: one list per family, one slot per station in
fleet order), so a scrape joins whole columns and keeps no second copy. They
are split into groups by how often their inputs change: a heartbeat always
moves the timestamp, usually the host figures, but the components and checks
usually stay the same *object* (the fleet keeps the old tuple when nothing
changed), so those cost an `is` check and are not rendered again.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import chain, compress, repeat
from operator import attrgetter
from typing import Final

from collector.exposition_text import Family, escape_label, num, numbers
from collector.station import STATION_STATES, StationView
from pantau import wire

_META: Final = (
    Family("pantau_station_up", "gauge", "1 when the station is online and fresh."),
    Family("pantau_station_state", "gauge", "1 for the station's current state (enum style)."),
    Family("pantau_station_info", "gauge", "Station facts as labels; always 1."),
    Family(
        "pantau_station_unexpected_devices", "gauge",
        "USB devices attached that the station's inventory does not expect.",
    ),
)
_HEARTBEAT: Final = (
    Family(
        "pantau_station_last_heartbeat_timestamp_seconds", "gauge",
        "The agent's timestamp of the last heartbeat.",
    ),
    Family(
        "pantau_host_clock_offset_seconds", "gauge",
        "Station clock minus collector clock, estimated from heartbeat receipt.",
    ),
)
_COMPONENTS: Final = (
    Family("pantau_component_up", "gauge", "1 when the component's status is ok."),
    Family("pantau_component_status", "gauge", "1 for the component's current status."),
    Family(
        "pantau_component_status_since_timestamp_seconds", "gauge",
        "When the component's current status began.",
    ),
    Family("pantau_component_required", "gauge", "1 when the station needs the component."),
)
_CHECKS: Final = (
    Family("pantau_check_up", "gauge", "1 when the station's network check passes."),
    Family("pantau_check_latency_seconds", "gauge", "Latency of the last network check."),
)
_HOST: Final = (
    Family("pantau_host_cpu_ratio", "gauge", "Station CPU use, 0 to 1."),
    Family("pantau_host_memory_used_ratio", "gauge", "Station memory in use, 0 to 1."),
    Family("pantau_host_disk_used_ratio", "gauge", "Disk space in use per mount, 0 to 1."),
    Family("pantau_host_disk_free_bytes", "gauge", "Free disk space per mount."),
    Family("pantau_host_temperature_celsius", "gauge", "Highest station temperature sensor."),
    Family("pantau_host_boot_time_seconds", "gauge", "When the station's OS booted."),
)
_AGENT: Final = (
    Family("pantau_agent_queued_events", "gauge", "Events in the agent's queue, not yet acked."),
    Family(
        "pantau_agent_dropped_events_total", "counter",
        "Events the agent's queue bounds dropped unacked since its queue was created.",
    ),
    Family(
        "pantau_agent_oldest_queued_timestamp_seconds", "gauge",
        "When the oldest queued event was queued, on the clock of the heartbeat's timestamp.",
    ),
)
STATION_FAMILIES: Final = (*_META, *_HEARTBEAT, *_COMPONENTS, *_CHECKS, *_HOST, *_AGENT)
CACHED_FAMILIES: Final = (*_META, *_COMPONENTS, *_CHECKS)  # per station, in `Columns`
LIVE_FAMILIES: Final = (*_HEARTBEAT, *_HOST, *_AGENT)  # rendered at every scrape: `live_lines`
_SLOT: Final = b"\x00"  # stands for the label text in the templates below


def _enum_templates(family: str, label: str, values: tuple[str, ...]) -> dict[str, bytes]:
    """Per current value, all enum lines with the labels left as `_SLOT`: one
    `bytes.replace` then renders the whole set for a station or component."""
    return {
        current: "".join(
            f'{family}{{\x00,{label}="{v}"}} {1 if v == current else 0}\n' for v in values
        ).encode()
        for current in values
    }


_STATE_LINES: Final = _enum_templates("pantau_station_state", "state", STATION_STATES)
_STATUS_LINES: Final = _enum_templates(
    "pantau_component_status", "status", wire.COMPONENT_STATUSES
)
_UP: Final = {True: b"} 1\n", False: b"} 0\n"}


def station_labels(facts: StationView) -> bytes:
    return f'site="{escape_label(facts.site)}",station="{escape_label(facts.station)}"'.encode()


def meta_key(facts: StationView) -> tuple[object, ...]:
    return (facts.state, facts.hostname, facts.agent_version, facts.profile,
            len(facts.unexpected), facts.last_heartbeat_ts is None)


def meta_fragments(lab: bytes, facts: StationView) -> tuple[bytes, ...]:
    info_labels = (
        f',hostname="{escape_label(facts.hostname)}",'
        f'agent_version="{escape_label(facts.agent_version)}",'
        f'profile="{escape_label(facts.profile)}"'
    ).encode()
    unexpected = (
        b"" if facts.last_heartbeat_ts is None
        else b"pantau_station_unexpected_devices{%b} %d\n" % (lab, len(facts.unexpected))
    )
    return (
        b"pantau_station_up{" + lab + _UP[facts.up],
        _STATE_LINES[facts.state].replace(_SLOT, lab),
        b"pantau_station_info{" + lab + info_labels + b"} 1\n",
        unexpected,
    )


def component_fragments(lab: bytes, components: tuple[wire.Component, ...]) -> tuple[bytes, ...]:
    up, status, since_openings, required = _components_texts(
        tuple(map(_COMPONENT_SHAPE, components)))
    sinces = [num(c.since).encode() for c in components]
    since = b"".join(chain.from_iterable(zip(since_openings, sinces, repeat(b"\n"))))
    # One replace per family fills in the station's labels for all its components.
    return (up.replace(_SLOT, lab), status.replace(_SLOT, lab), since.replace(_SLOT, lab),
            required.replace(_SLOT, lab))


_COMPONENT_SHAPE: Final = attrgetter("id", "status", "required")


@lru_cache(maxsize=1024)  # per kit model and fault pattern, fleet-wide
def _components_texts(
    shape: tuple[tuple[str, wire.ComponentStatus, bool], ...],
) -> tuple[bytes, bytes, tuple[bytes, ...], bytes]:
    """A station's component lines but for its labels (`_SLOT`) and the `since` values:
    most stations of a kit model share one shape, so a cold render looks it up once."""
    texts = [_component_texts(*component) for component in shape]
    return (b"".join(t[0] for t in texts), b"".join(t[1] for t in texts),
            tuple(t[2] for t in texts), b"".join(t[3] for t in texts))


@lru_cache(maxsize=4096)  # a kit model's few components, fleet-wide
def _component_texts(cid: str, status: wire.ComponentStatus, required: bool) -> tuple[bytes, ...]:
    """A component's lines but for the station's labels (`_SLOT`) and its `since` value."""
    cl = _SLOT + f',component="{escape_label(cid)}"'.encode()
    return (
        b"pantau_component_up{" + cl + _UP[status == "ok"],
        _STATUS_LINES[status].replace(_SLOT, cl),
        b"pantau_component_status_since_timestamp_seconds{" + cl + b"} ",
        b"pantau_component_required{" + cl + _UP[required],
    )


def check_fragments(lab: bytes, checks: tuple[wire.Check, ...]) -> tuple[bytes, ...]:
    up: list[bytes] = []
    latency: list[bytes] = []
    for k in checks:
        kl = lab + f',check="{escape_label(k.id)}"'.encode()
        up.append(b"pantau_check_up{" + kl + _UP[k.status == "ok"])
        if k.latency_s is not None:
            latency.append(b"pantau_check_latency_seconds{%b} %b\n"
                           % (kl, num(k.latency_s).encode()))
    return b"".join(up), b"".join(latency)


# C-level getters: map() over them builds the fleet-long lists without a Python frame.
_DISKS, _MOUNT = attrgetter("disks"), attrgetter("mount")


def live_lines(stations: Sequence[StationView], labs: Sequence[bytes]) -> list[list[bytes]]:
    """The heartbeat and host families (`LIVE_FAMILIES`) of every station, rendered fresh:
    per family its samples in station order, in chunks of `LINES_PER_CHUNK` lines.

    They move with nearly every heartbeat, so by the next scrape almost every
    station's are stale anyway: caching them would cost ~1 KB per station.
    Built column by column from C-level pieces (`numbers`, zip, chain, one join
    per family); `labs[i]` is `stations[i]`'s label text. No tuple per station:
    100k short-lived tuples would set off full garbage collections over the fleet.
    """
    ts = [f.last_heartbeat_ts for f in stations]
    offsets = [f.clock_offset_s for f in stations]
    all_hosts = [f.host for f in stations]
    has_host = [h is not None for h in all_hosts]
    hosts: list[wire.Host] = list(compress(all_hosts, has_host))  # type: ignore[arg-type]
    host_labs = list(compress(labs, has_host))
    per_host = list(map(_DISKS, hosts))
    disks = list(chain.from_iterable(per_host))
    disk_labs = list(chain.from_iterable(map(repeat, host_labs, map(len, per_host))))
    mounts = list(map(_mount_label, map(_MOUNT, disks)))
    temps = [h.temperature_c for h in hosts]
    return [
        _lines(b"pantau_station_last_heartbeat_timestamp_seconds{", ts, labs),
        _lines(b"pantau_host_clock_offset_seconds{", offsets, labs),
        _lines(b"pantau_host_cpu_ratio{", [h.cpu_ratio for h in hosts], host_labs),
        _lines(b"pantau_host_memory_used_ratio{", [h.memory_used_ratio for h in hosts],
               host_labs),
        _lines(b"pantau_host_disk_used_ratio{", [d.used_ratio for d in disks], disk_labs, mounts),
        _lines(b"pantau_host_disk_free_bytes{", [d.free_bytes for d in disks], disk_labs, mounts),
        _lines(b"pantau_host_temperature_celsius{", temps, host_labs),
        _lines(b"pantau_host_boot_time_seconds{", [h.boot_time for h in hosts], host_labs),
        _lines(b"pantau_agent_queued_events{", [f.queued_events for f in stations], labs),
        _lines(b"pantau_agent_dropped_events_total{", [f.dropped_events for f in stations], labs),
        _lines(b"pantau_agent_oldest_queued_timestamp_seconds{",
               [f.oldest_queued_ts for f in stations], labs),
    ]


# ~60 KB a chunk: under glibc's 128 KB mmap threshold. A freed mmap'd chunk raises that
# threshold for good, and later MB-sized bodies then left holes in the heap (~1 KB of RSS
# per station after a scrape).
LINES_PER_CHUNK: Final = 512


def _lines(opening: bytes, values: Sequence[float | int | None],
           *labels: Sequence[bytes]) -> list[bytes]:
    """`opening + labels... + "} " + value + "\n"` per value that is not None, joined
    `LINES_PER_CHUNK` lines at a time."""
    if None in values:  # a C-level scan; most families have a value for every station
        present = [v is not None for v in values]
        labels = tuple(list(compress(part, present)) for part in labels)
        values = list(compress(values, present))
    tails = numbers(values, b"} ", b"\n")  # type: ignore[arg-type]  # the Nones are gone
    return [
        b"".join(chain.from_iterable(zip(
            repeat(opening), *(part[at:at + LINES_PER_CHUNK] for part in labels),
            tails[at:at + LINES_PER_CHUNK], strict=False)))
        for at in range(0, len(tails), LINES_PER_CHUNK)
    ]


@lru_cache(maxsize=256)  # a handful of mount points across the whole fleet
def _mount_label(mount: str) -> bytes:
    return f',mount="{escape_label(mount)}"'.encode()


_UP_OPENING: Final = b"pantau_station_up{"
_UP_CLOSING: Final = len(b"} 1\n")


def label_of(up_fragment: bytes) -> bytes:
    """A station's label text, cut from its cached `pantau_station_up` line (see
    `meta_fragments`): 10x cheaper than formatting it again at every scrape."""
    return up_fragment[len(_UP_OPENING):-_UP_CLOSING]


Columns = list[list[bytes]]  # [family][station slot], families in CACHED_FAMILIES order
_META_AT: Final = 0
UP_COLUMN: Final = _META_AT  # pantau_station_up: the first meta family
_COMPONENTS_AT: Final = _META_AT + len(_META)
_CHECKS_AT: Final = _COMPONENTS_AT + len(_COMPONENTS)


def _put(columns: Columns, first: int, slot: int, fragments: tuple[bytes, ...]) -> None:
    for family, text in enumerate(fragments, first):
        columns[family][slot] = text


class StationFragments:
    """What one station's slot in the cached columns was rendered from.

    `refresh` re-renders only the groups whose inputs moved. Kept small
    (references only, no text): there is one per station.
    """

    __slots__ = ("checks", "components", "key", "site", "station", "version")

    def __init__(self, facts: StationView) -> None:
        self.station, self.site = facts.station, facts.site
        self.key: tuple[object, ...] | None = None
        self.components: tuple[wire.Component, ...] | None = None
        self.checks: tuple[wire.Check, ...] | None = None
        self.version = -1

    def refresh(self, facts: StationView, columns: Columns, slot: int) -> bool:
        """Re-render what moved; True if the meta or the components did (site rollup inputs)."""
        if facts.shape_version == self.version:
            return False
        self.version = facts.shape_version
        key = meta_key(facts)
        same_meta = key == self.key
        same_components = facts.components is self.components
        if same_meta and same_components and facts.checks is self.checks:
            return False  # only the live families moved (the usual heartbeat)
        lab = station_labels(facts)  # not kept: cheaper to redo than to hold per station
        if not same_meta:
            self.key = key
            _put(columns, _META_AT, slot, meta_fragments(lab, facts))
        if not same_components:
            self.components = facts.components
            _put(columns, _COMPONENTS_AT, slot, component_fragments(lab, facts.components))
        if facts.checks is not self.checks:
            self.checks = facts.checks
            _put(columns, _CHECKS_AT, slot, check_fragments(lab, facts.checks))
        return not (same_meta and same_components)
