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

from typing import Final

from agent import protocol
from collector.exposition_text import Family, escape_label, num
from collector.station import STATION_STATES, StationFacts

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
STATION_FAMILIES: Final = (*_META, *_HEARTBEAT, *_COMPONENTS, *_CHECKS, *_HOST)
_SLOT: Final = "\x00"  # stands for the label text in the enum templates below


def _enum_templates(family: str, label: str, values: tuple[str, ...]) -> dict[str, str]:
    """Per current value, all enum lines with the labels left as `_SLOT`: one
    `str.replace` then renders the whole set for a station or component."""
    return {
        current: "".join(
            f'{family}{{{_SLOT},{label}="{v}"}} {1 if v == current else 0}\n' for v in values
        )
        for current in values
    }


_STATE_LINES: Final = _enum_templates("pantau_station_state", "state", STATION_STATES)
_STATUS_LINES: Final = _enum_templates(
    "pantau_component_status", "status", protocol.COMPONENT_STATUSES
)


def station_labels(facts: StationFacts) -> str:
    return f'site="{escape_label(facts.site)}",station="{escape_label(facts.station)}"'


def meta_key(facts: StationFacts) -> tuple[object, ...]:
    return (facts.state, facts.hostname, facts.agent_version, facts.profile,
            len(facts.unexpected), facts.last_heartbeat_ts is None)


def meta_fragments(lab: str, facts: StationFacts) -> tuple[str, ...]:
    info_labels = (
        f'hostname="{escape_label(facts.hostname)}",'
        f'agent_version="{escape_label(facts.agent_version)}",'
        f'profile="{escape_label(facts.profile)}"'
    )
    unexpected = (
        "" if facts.last_heartbeat_ts is None
        else f"pantau_station_unexpected_devices{{{lab}}} {len(facts.unexpected)}\n"
    )
    return (
        f"pantau_station_up{{{lab}}} {1 if facts.up else 0}\n",
        _STATE_LINES[facts.state].replace(_SLOT, lab),
        f"pantau_station_info{{{lab},{info_labels}}} 1\n",
        unexpected,
    )


def heartbeat_fragments(lab: str, facts: StationFacts) -> tuple[str, ...]:
    ts, offset = facts.last_heartbeat_ts, facts.clock_offset_s
    return (
        "" if ts is None else f"pantau_station_last_heartbeat_timestamp_seconds{{{lab}}} "
        f"{num(ts)}\n",
        "" if offset is None else f"pantau_host_clock_offset_seconds{{{lab}}} {num(offset)}\n",
    )


def component_fragments(lab: str, components: tuple[protocol.Component, ...]) -> tuple[str, ...]:
    up: list[str] = []
    status: list[str] = []
    since: list[str] = []
    required: list[str] = []
    for c in components:
        cl = f'{lab},component="{escape_label(c.id)}"'
        up.append(f"pantau_component_up{{{cl}}} {1 if c.status == 'ok' else 0}\n")
        status.append(_STATUS_LINES[c.status].replace(_SLOT, cl))
        since.append(f"pantau_component_status_since_timestamp_seconds{{{cl}}} {num(c.since)}\n")
        required.append(f"pantau_component_required{{{cl}}} {1 if c.required else 0}\n")
    return "".join(up), "".join(status), "".join(since), "".join(required)


def check_fragments(lab: str, checks: tuple[protocol.Check, ...]) -> tuple[str, ...]:
    up: list[str] = []
    latency: list[str] = []
    for k in checks:
        kl = f'{lab},check="{escape_label(k.id)}"'
        up.append(f"pantau_check_up{{{kl}}} {1 if k.status == 'ok' else 0}\n")
        if k.latency_s is not None:
            latency.append(f"pantau_check_latency_seconds{{{kl}}} {num(k.latency_s)}\n")
    return "".join(up), "".join(latency)


def host_fragments(lab: str, host: protocol.Host | None) -> tuple[str, ...]:
    if host is None:
        return ("",) * len(_HOST)
    used: list[str] = []
    free: list[str] = []
    for d in host.disks:
        dl = f'{lab},mount="{escape_label(d.mount)}"'
        used.append(f"pantau_host_disk_used_ratio{{{dl}}} {num(d.used_ratio)}\n")
        free.append(f"pantau_host_disk_free_bytes{{{dl}}} {num(d.free_bytes)}\n")
    temp = host.temperature_c
    return (
        f"pantau_host_cpu_ratio{{{lab}}} {num(host.cpu_ratio)}\n",
        f"pantau_host_memory_used_ratio{{{lab}}} {num(host.memory_used_ratio)}\n",
        "".join(used),
        "".join(free),
        "" if temp is None else f"pantau_host_temperature_celsius{{{lab}}} {num(temp)}\n",
        f"pantau_host_boot_time_seconds{{{lab}}} {num(host.boot_time)}\n",
    )


Columns = list[list[bytes]]  # [family][station slot], families in STATION_FAMILIES order
_META_AT: Final = 0
_HEARTBEAT_AT: Final = _META_AT + len(_META)
_COMPONENTS_AT: Final = _HEARTBEAT_AT + len(_HEARTBEAT)
_CHECKS_AT: Final = _COMPONENTS_AT + len(_COMPONENTS)
_HOST_AT: Final = _CHECKS_AT + len(_CHECKS)


def _put(columns: Columns, first: int, slot: int, fragments: tuple[str, ...]) -> None:
    for family, text in enumerate(fragments, first):
        columns[family][slot] = text.encode() if text else b""


class StationFragments:
    """What one station's slot in the columns was rendered from.

    `refresh` re-renders only the groups whose inputs moved; the heartbeat
    group (timestamp, clock offset) whenever the station's version moved.
    """

    __slots__ = ("checks", "components", "host", "key", "lab", "site", "slot", "version")

    def __init__(self, facts: StationFacts) -> None:
        self.site = facts.site
        self.lab = station_labels(facts)
        self.key: tuple[object, ...] | None = None
        self.components: tuple[protocol.Component, ...] | None = None
        self.checks: tuple[protocol.Check, ...] | None = None
        self.host: protocol.Host | bool | None = False  # False: never rendered
        self.version = -1
        self.slot = -1  # index in the columns, set by the renderer

    def refresh(self, facts: StationFacts, columns: Columns) -> None:
        if facts.version == self.version:
            return
        lab, slot = self.lab, self.slot
        key = meta_key(facts)
        if key != self.key:
            self.key = key
            _put(columns, _META_AT, slot, meta_fragments(lab, facts))
        if facts.components is not self.components:
            self.components = facts.components
            _put(columns, _COMPONENTS_AT, slot, component_fragments(lab, facts.components))
        if facts.checks is not self.checks:
            self.checks = facts.checks
            _put(columns, _CHECKS_AT, slot, check_fragments(lab, facts.checks))
        if facts.host is not self.host:
            self.host = facts.host
            _put(columns, _HOST_AT, slot, host_fragments(lab, facts.host))
        _put(columns, _HEARTBEAT_AT, slot, heartbeat_fragments(lab, facts))
        self.version = facts.version
