"""Read a station config and its included profiles, merge them, build `AgentConfig`.

Each file is checked on its own first (so an error names the file and the key
as written there), then merged: tables key by key, `[[components]]` and
`[[checks]]` by `id` — the station's entry updates the profile's one, so
`{id = "iris", required = false}` is a complete override.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.config import (
    AgentConfig,
    BrokerConfig,
    ConfigError,
    HostConfig,
    Intervals,
    QueueConfig,
    UsbPolicy,
)
from agent.config_parse import ID_HINT, Section, describe, ident, integer
from agent.config_schema import (
    CHECK,
    COMPONENT,
    SECTIONS,
    Entry,
    build_broker,
    build_check,
    build_component,
    read_broker_fields,
    read_entries,
)
from agent.protocol import is_valid_id

DEFAULT_PROFILE_DIRS: tuple[Path, ...] = (
    Path("/etc/pantau/profiles"),
    Path(__file__).resolve().parent.parent / "deploy" / "profiles",
)
_PROFILE_KEYS = (*SECTIONS, "components", "checks", "max_payload_bytes")
_STATION_KEYS = ("station", "site", "include", *_PROFILE_KEYS)
_SECTION_TYPES = {
    "intervals": Intervals, "usb": UsbPolicy, "host": HostConfig, "queue": QueueConfig,
}
_TOML_POSITION = re.compile(r"^(.*) \(at (line \d+, column \d+|end of document)\)$")


@dataclass(slots=True)
class FileParts:
    """One file's checked content, not yet merged with anything."""

    file: str
    top: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    components: list[Entry] = field(default_factory=list)
    checks: list[Entry] = field(default_factory=list)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        hint = "check the path and permissions"
        raise ConfigError(path, "file", f"cannot read ({reason}); {hint}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(path, "file", "not UTF-8 text; save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_POSITION.match(str(exc))
        where, what = (found.group(2), found.group(1)) if found else ("file", str(exc))
        raise ConfigError(path, where, f"invalid TOML: {what}") from None


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
                read_broker_fields(child) if is_broker else child.fields(SECTIONS[name])
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


def load_agent_config(path: Path, profile_dirs: Sequence[Path] | None = None) -> AgentConfig:
    dirs = tuple(profile_dirs) if profile_dirs is not None else DEFAULT_PROFILE_DIRS
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


def parse_broker(
    table: Mapping[str, object], file: str, key_prefix: str = "broker"
) -> BrokerConfig:
    sec = Section(table, file, key_prefix, Path(file).parent)
    return build_broker(read_broker_fields(sec), file, key_prefix)
