"""Station config: TOML → frozen dataclasses, validated once at start.

`load_config(path)` reads the station file, resolves its `include` profiles,
merges them and refuses anything unknown or wrong with a `ConfigError` naming
the file, the key and the reason. Each file is checked on its own first (so an
error names the file and the key as written there), then merged: tables key by
key, `[[components]]` and `[[checks]]` by `id` — the station's entry updates
the profile's one, so `{id = "iris", required = false}` is a complete override.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import msgspec

from pantau.broker_config import BrokerConfig, broker_fields, broker_schema, build_broker
from pantau.config import (
    ID_HINT,
    ConfigError,
    FieldParser,
    Section,
    boolean,
    choice,
    describe,
    hex_id,
    ident,
    int_list,
    integer,
    nonempty_text,
    parse_host_port,
    path,
    quoted,
    read_toml,
    seconds,
    text,
    text_list,
)
from pantau.wire import is_valid_id

READER = "the agent"  # who must read the files a config names, for refusals

UsbSpeed = Literal["low", "full", "high", "super", "super_plus"]
USB_SPEED_ORDER: tuple[UsbSpeed, ...] = ("low", "full", "high", "super", "super_plus")
ComponentKind = Literal["usb", "display"]
CheckKind = Literal["tcp", "http"]
ActiveCheck = Literal["none", "control"]




class Intervals(msgspec.Struct, frozen=True):
    heartbeat_s: float = 15.0  # full snapshot on the heartbeat topic
    poll_s: float = 2.0  # how often probes run (USB, display, checks)
    host_s: float = 15.0  # psutil figures change slowly


class UsbMatch(msgspec.Struct, frozen=True):
    vid: int
    pid: int
    serial: str | None = None
    # A device that serves the role until the real part is back (a single-finger
    # reader for the ten-print scanner): the role is ok, its repair stays open.
    standin: bool = False


class ComponentSpec(msgspec.Struct, frozen=True):
    id: str  # role, e.g. "fingerprint"; matches protocol.ID_PATTERN
    kind: ComponentKind
    required: bool = True
    description: str = ""  # human name for the technician table, e.g. "ten-print scanner"
    # usb
    match: tuple[UsbMatch, ...] = ()  # any-of
    count: int = 1
    min_speed: UsbSpeed | None = None  # below this speed the part is "failed"
    active_check: ActiveCheck = "none"  # "control": GET_STATUS control transfer (opt-in)
    health_command: tuple[str, ...] = ()  # opt-in; exit 0 = healthy
    health_timeout_s: float = 5.0
    # display
    connector: str = "*"  # glob over /sys/class/drm card*-<connector> names, e.g. "HDMI-A-*"


class CheckSpec(msgspec.Struct, frozen=True):
    id: str
    kind: CheckKind
    target: str  # tcp: "host:port"; http: "http(s)://..."
    timeout_s: float = 3.0
    expect_status: int = 200  # http only


class UsbPolicy(msgspec.Struct, frozen=True):
    debounce_polls: int = 2  # polls a device must be absent before "missing"
    flap_changes: int = 4  # this many appear/disappear changes ...
    flap_window_s: float = 60.0  # ... within this window = "failed" (re-enumerating)
    allow: tuple[UsbMatch, ...] = ()  # extra devices that are never "unexpected"
    allow_classes: tuple[int, ...] = ()  # extra device/interface classes never "unexpected"


class HostConfig(msgspec.Struct, frozen=True):
    enabled: bool = True
    mounts: tuple[str, ...] = ("/",)


class QueueConfig(msgspec.Struct, frozen=True):
    path: Path = Path("/var/lib/pantau-agent/queue.sqlite3")
    max_age_s: float = 7 * 86400.0
    max_bytes: int = 50 * 1024 * 1024


class AgentConfig(msgspec.Struct, frozen=True):
    station: str
    site: str
    source: str = "<defaults>"  # the file this came from, for messages
    broker: BrokerConfig = msgspec.field(default_factory=BrokerConfig)
    intervals: Intervals = msgspec.field(default_factory=Intervals)
    components: tuple[ComponentSpec, ...] = ()
    checks: tuple[CheckSpec, ...] = ()
    usb: UsbPolicy = msgspec.field(default_factory=UsbPolicy)
    host: HostConfig = msgspec.field(default_factory=HostConfig)
    queue: QueueConfig = msgspec.field(default_factory=QueueConfig)
    profiles: tuple[str, ...] = ()  # names of included profiles, for station_info
    max_payload_bytes: int = 256 * 1024


# --- what each table may hold ------------------------------------------------

MATCH_EXAMPLE = '[{vid = "05ba", pid = "000a"}]'
MATCHES_HINT = f"an array of tables like {MATCH_EXAMPLE}"



INTERVALS: dict[str, FieldParser] = {
    "heartbeat_s": seconds(0, 86400), "poll_s": seconds(0, 3600), "host_s": seconds(0, 86400),
}
HOST: dict[str, FieldParser] = {"enabled": boolean, "mounts": text_list}
QUEUE: dict[str, FieldParser] = {
    "path": path, "max_age_s": seconds(0, 365 * 86400), "max_bytes": integer(4096),
}
MATCH: dict[str, FieldParser] = {
    "vid": hex_id, "pid": hex_id, "serial": nonempty_text, "standin": boolean,
}


def _matches(sec: Section, name: str) -> tuple[UsbMatch, ...]:
    found = []
    for item in sec.children(name, MATCHES_HINT):
        fields = item.fields(MATCH)
        item.require("vid", 'the vendor id as 4 hex digits, like vid = "05ba"')
        item.require("pid", 'the product id as 4 hex digits, like pid = "000a"')
        found.append(UsbMatch(**fields))
    return tuple(found)


def _allowed(sec: Section, name: str) -> tuple[UsbMatch, ...]:
    found = _matches(sec, name)
    for i, match in enumerate(found):
        if match.standin:
            reason = ("only for a component's match entries: an allowed device serves no role; "
                      "move it to the match list of the role it stands in for")
            raise sec.error(f"{name}[{i}].standin", reason)
    return found


USB: dict[str, FieldParser] = {
    "debounce_polls": integer(1, 1000), "flap_changes": integer(2, 1000),
    "flap_window_s": seconds(0, 86400), "allow": _allowed, "allow_classes": int_list(0, 255),
}
COMPONENT: dict[str, FieldParser] = {
    "id": ident, "kind": choice("usb", "display"), "required": boolean, "description": text,
    "match": _matches, "count": integer(1, 64), "min_speed": choice(*USB_SPEED_ORDER),
    "active_check": choice("none", "control"), "health_command": text_list,
    "health_timeout_s": seconds(0, 600), "connector": nonempty_text,
}
CHECK: dict[str, FieldParser] = {
    "id": ident, "kind": choice("tcp", "http"), "target": nonempty_text,
    "timeout_s": seconds(0, 60), "expect_status": integer(100, 599),
}
SECTIONS: dict[str, dict[str, FieldParser]] = {
    "broker": broker_schema(READER), "intervals": INTERVALS, "usb": USB, "host": HOST,
    "queue": QUEUE,
}
_USB_ONLY = ("match", "min_speed", "active_check", "health_command")


class Entry(msgspec.Struct):
    """One [[components]] or [[checks]] table, its checked fields and where it was last set."""

    id: str
    fields: dict[str, Any]
    file: str
    key: str

    def error(self, name: str, reason: str) -> ConfigError:
        return ConfigError(self.file, f"{self.key}.{name}", reason)


def read_entries(sec: Section, name: str, schema: Mapping[str, FieldParser]) -> list[Entry]:
    """An array of id-keyed tables; ids must be unique within one file."""
    entries: dict[str, Entry] = {}
    for item in sec.children(name, f"[[{name}]] tables, each with an id"):
        fields = item.fields(schema)
        item.require("id", ID_EXAMPLE[name])
        first = entries.get(fields["id"])
        if first is not None:
            reason = f'duplicate id "{fields["id"]}" (also {first.key}); each id must be unique'
            raise item.error("id", reason)
        entries[fields["id"]] = Entry(fields["id"], fields, item.file, item.prefix)
    return list(entries.values())


ID_EXAMPLE = {
    "components": 'a role id like id = "fingerprint"',
    "checks": 'a check id like id = "enrollment-server"',
}


def build_component(entry: Entry) -> ComponentSpec:
    fields = entry.fields
    if "kind" not in fields:
        reason = 'missing; expected "usb" or "display" (only overrides of a profile may omit it)'
        raise entry.error("kind", reason)
    if fields["kind"] == "usb" and not fields.get("match"):
        reason = f"a usb component needs at least one device, like match = {MATCH_EXAMPLE}"
        raise entry.error("match", reason)
    if fields.get("match") and all(m.standin for m in fields["match"]):
        reason = ("every entry is a stand-in; also list the model that fills the role for good "
                  "(the one to order when the role is missing)")
        raise entry.error("match", reason)
    if fields["kind"] == "display":
        for name in _USB_ONLY:
            if name in fields:
                raise entry.error(name, 'only for kind = "usb"; a display is matched by connector')
    return ComponentSpec(**fields)


def build_check(entry: Entry) -> CheckSpec:
    fields = entry.fields
    for name, hint in (("kind", '"tcp" or "http"'), ("target", 'a target like "10.0.0.5:443" or "http://10.0.0.5/health"')):
        if name not in fields:
            raise entry.error(name, f"missing; expected {hint}")
    if fields["kind"] == "tcp":
        try:
            parse_host_port(fields["target"])
        except ValueError as exc:
            raise entry.error("target", str(exc)) from None
    elif not _is_http_url(fields["target"]):
        wanted = 'expected a URL like "http://10.0.0.5:8080/health"'
        raise entry.error("target", f'{wanted}, got {quoted(fields["target"])}')
    if fields["kind"] == "tcp" and "expect_status" in fields:
        raise entry.error("expect_status", 'only for kind = "http"')
    return CheckSpec(**fields)


def _is_http_url(target: str) -> bool:
    try:
        parts = urlsplit(target)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


# --- reading and merging files -----------------------------------------------

# The administrator's own profiles first, then the packaged ones, then a source checkout's.
DEFAULT_PROFILE_DIRS: tuple[Path, ...] = (
    Path("/etc/pantau/profiles"),
    Path("/usr/share/pantau/profiles"),
    Path(__file__).resolve().parent.parent / "deploy" / "profiles",
)
_PROFILE_KEYS = (*SECTIONS, "components", "checks", "max_payload_bytes")
_STATION_KEYS = ("station", "site", "include", *_PROFILE_KEYS)
_SECTION_TYPES = {
    "intervals": Intervals, "usb": UsbPolicy, "host": HostConfig, "queue": QueueConfig,
}


class FileParts(msgspec.Struct):
    """One file's checked content, not yet merged with anything."""

    file: str
    top: dict[str, Any] = msgspec.field(default_factory=dict)
    sections: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    components: list[Entry] = msgspec.field(default_factory=list)
    checks: list[Entry] = msgspec.field(default_factory=list)



def read_file_parts(path: Path, data: Mapping[str, object], allowed: Sequence[str]) -> FileParts:
    sec = Section(data, str(path), "", path.parent)
    sec.check_keys(dict.fromkeys(allowed))
    parts = FileParts(str(path))
    if "max_payload_bytes" in data:
        parts.top["max_payload_bytes"] = integer(1024, 16 * 1024 * 1024)(sec, "max_payload_bytes")
    for name in SECTIONS:
        if name in data:
            child = sec.child(name)
            is_broker = name == "broker"
            parts.sections[name] = (
                broker_fields(child, READER) if is_broker else child.fields(SECTIONS[name])
            )
    if "components" in data:
        parts.components = read_entries(sec, "components", COMPONENT)
    if "checks" in data:
        parts.checks = read_entries(sec, "checks", CHECK)
    return parts


def merge(base: FileParts, over: FileParts) -> FileParts:
    """`over` wins key by key; entries with the same id are updated in place."""
    merged = FileParts(over.file, {**base.top, **over.top})
    for name in SECTIONS:
        merged.sections[name] = {**base.sections.get(name, {}), **over.sections.get(name, {})}
    merged.components = _merge_entries(base.components, over.components)
    merged.checks = _merge_entries(base.checks, over.checks)
    return merged


def _merge_entries(base: list[Entry], over: list[Entry]) -> list[Entry]:
    by_id = {e.id: Entry(e.id, dict(e.fields), e.file, e.key) for e in base}
    for entry in over:
        if entry.id in by_id:
            target = by_id[entry.id]
            target.fields.update(entry.fields)
            target.file, target.key = entry.file, entry.key  # cross-field errors point here
        else:
            by_id[entry.id] = entry
    return list(by_id.values())


def find_profile(name: str, dirs: Sequence[Path], sec: Section, key: str) -> Path:
    for directory in dirs:
        candidate = directory / f"{name}.toml"
        if candidate.is_file():
            return candidate
    searched = ", ".join(str(d) for d in dirs) or "(no directories)"
    reason = f'profile "{name}" not found; looked for {name}.toml in {searched}'
    raise ConfigError(sec.file, key, reason)


def _includes(sec: Section) -> list[tuple[str, str]]:
    value = sec.data.get("include", [])
    example = 'an array of profile names like ["ektp-enrollment"]'
    if not isinstance(value, list):
        raise sec.error("include", f"expected {example}, got {describe(value)}")
    for i, name in enumerate(value):
        if not isinstance(name, str) or not is_valid_id(name):
            reason = f"expected a profile name, {ID_HINT}, got {describe(name)}"
            raise sec.error(f"include[{i}]", reason)
    return [(name, f"include[{i}]") for i, name in enumerate(value)]


def load_config(path: Path, profile_dirs: Sequence[Path] | None = None) -> AgentConfig:
    """Read `path`, resolve its `include` profiles (default: DEFAULT_PROFILE_DIRS), merge,
    check everything; raise `ConfigError`."""
    dirs = tuple(profile_dirs) if profile_dirs is not None else DEFAULT_PROFILE_DIRS
    path = Path(path)
    data = read_toml(path)
    sec = Section(data, str(path), "", path.parent)
    sec.check_keys(dict.fromkeys(_STATION_KEYS))
    sec.require("station", 'the station id, like station = "medan-baru-01"')
    sec.require("site", 'the site id, like site = "medan-baru"')
    station, site = ident(sec, "station"), ident(sec, "site")
    merged, names = FileParts(str(path)), []
    for name, key in _includes(sec):
        profile_path = find_profile(name, dirs, sec, key)
        profile = read_file_parts(profile_path, read_toml(profile_path), _PROFILE_KEYS)
        merged = merge(merged, profile)
        names.append(name)
    own = {k: v for k, v in data.items() if k in _PROFILE_KEYS}
    merged = merge(merged, read_file_parts(path, own, _PROFILE_KEYS))
    return _build(merged, station, site, tuple(names))


def _build(parts: FileParts, station: str, site: str, profiles: tuple[str, ...]) -> AgentConfig:
    others = {name: cls(**parts.sections[name]) for name, cls in _SECTION_TYPES.items()}
    broker_fields = parts.sections["broker"]
    return AgentConfig(
        station=station,
        site=site,
        source=parts.file,
        broker=build_broker(broker_fields, parts.file, "broker"),
        components=tuple(build_component(e) for e in parts.components),
        checks=tuple(build_check(e) for e in parts.checks),
        profiles=profiles,
        **others,
        **parts.top,
    )
