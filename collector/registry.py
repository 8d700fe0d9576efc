"""The expected fleet: `/etc/pantau/fleet.toml` → frozen `Registry`.

The registry says which sites exist and which stations should be reporting,
so the collector can show a station that never came up (`never_seen`) and
rollout progress (`planned`). It is read once at start and again on SIGHUP;
a broken file is refused whole with a `RegistryError` naming file, key and
reason, so a typo never silently drops a district from monitoring. Opening
hours and maintenance windows (`[schedule]`, a site's `schedule` and
`maintenance`) are parsed in collector/registry_schedule.py.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal, cast

from collector.errors import RegistryError
from collector.registry_rollout import install_by
from collector.registry_schedule import (
    ScheduleSource,
    capacity_per_day,
    default_fields,
    site_schedule,
    site_windows,
)
from collector.schedule import Schedule, Window
from pantau.wire import ID_PATTERN, is_valid_id

__all__ = ["LIFECYCLES", "Lifecycle", "Registry", "RegistryError", "SiteInfo", "StationEntry",
           "load_registry"]

Lifecycle = Literal["planned", "active", "retired"]
LIFECYCLES: Final[tuple[Lifecycle, ...]] = ("planned", "active", "retired")
_TOP_KEYS: Final = ("sites", "stations", "schedule")
_SITE_KEYS: Final = ("name", "region", "schedule", "maintenance", "install_by")
_STATION_KEYS: Final = ("site", "profile", "lifecycle", "capacity_per_day", "install_by")
_ID_HINT: Final = f"must match {ID_PATTERN} (lowercase letters, digits, '-' and '_')"


@dataclass(frozen=True, slots=True)
class SiteInfo:
    id: str
    name: str
    region: str
    schedule: Schedule | None = None  # None: always open
    maintenance: tuple[Window, ...] = ()
    install_by: date | None = None  # rollout deadline of its planned stations (docs/parts.md)


@dataclass(frozen=True, slots=True)
class StationEntry:
    id: str
    site: str
    profile: str
    lifecycle: Lifecycle
    capacity_per_day: int | None = None  # None: the site's schedule says
    install_by: date | None = None  # None: the site's install_by


@dataclass(frozen=True, slots=True)
class Registry:
    sites: Mapping[str, SiteInfo] = field(default_factory=lambda: MappingProxyType({}))
    stations: Mapping[str, StationEntry] = field(default_factory=lambda: MappingProxyType({}))
    source: str = "<empty>"
    schedule: Schedule | None = None  # the [schedule] table: every site's default

    @staticmethod
    def empty() -> Registry:
        """No expectations: every reporting station is shown as unregistered."""
        return Registry()


def load_registry(path: Path) -> Registry:
    """Read and check `path`; raises RegistryError on anything wrong."""
    file = str(path)
    data = _read_toml(path)
    _check_keys(file, "", data, _TOP_KEYS)
    site_tables = _tables(file, "sites", data.get("sites", {}))
    sites = {site_id: _site(file, site_id, table) for site_id, table in site_tables.items()}
    src = ScheduleSource(file, path.parent)
    stations = {
        station_id: _station(src, station_id, table, sites)
        for station_id, table in _tables(file, "stations", data.get("stations", {})).items()
    }
    defaults, default = default_fields(src, data.get("schedule"))
    site_of = {entry.id: entry.site for entry in stations.values()}
    for site_id, table in site_tables.items():
        sites[site_id] = replace(
            sites[site_id],
            schedule=site_schedule(src, site_id, table.get("schedule"), defaults, default),
            maintenance=site_windows(src, site_id, table.get("maintenance"), site_of),
        )
    return Registry(MappingProxyType(sites), MappingProxyType(stations), file, default)


def _read_toml(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RegistryError(
            path, "<file>", f"cannot read ({reason}); pass an existing, readable fleet.toml"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(path, "<toml>", f"not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise RegistryError(
            path, "<toml>", f"not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        ) from None


def _check_keys(
    file: str, prefix: str, table: Mapping[str, object], allowed: tuple[str, ...]
) -> None:
    for name in table:
        if name not in allowed:
            key = f"{prefix}.{name}" if prefix else name
            raise RegistryError(file, key, f"unknown key; expected one of: {', '.join(allowed)}")


def _tables(file: str, name: str, value: object) -> dict[str, dict[str, object]]:
    """`[name.<id>]` tables, each id checked against the protocol's id pattern."""
    if not isinstance(value, dict):
        raise RegistryError(file, name, f"expected tables like [{name}.<id>], got {_kind(value)}")
    for item_id, table in value.items():
        key = f"{name}.{item_id}"
        if not is_valid_id(item_id):
            raise RegistryError(file, key, f"id {item_id!r} {_ID_HINT}")
        if not isinstance(table, dict):
            raise RegistryError(file, key, f"expected a table [{key}], got {_kind(table)}")
    return cast(dict[str, dict[str, object]], value)


def _site(file: str, site_id: str, table: dict[str, object]) -> SiteInfo:
    prefix = f"sites.{site_id}"
    _check_keys(file, prefix, table, _SITE_KEYS)
    name = _string(file, prefix, table, "name", default=site_id)
    region = _string(file, prefix, table, "region", default="")
    return SiteInfo(site_id, name, region, install_by=install_by(file, prefix, table))


def _station(
    src: ScheduleSource, station_id: str, table: dict[str, object],
    sites: Mapping[str, SiteInfo],
) -> StationEntry:
    file, prefix = src.file, f"stations.{station_id}"
    _check_keys(file, prefix, table, _STATION_KEYS)
    if "site" not in table:
        raise RegistryError(
            file, f"{prefix}.site", "missing; expected the id of a [sites.<id>] table"
        )
    site = _string(file, prefix, table, "site", default="")
    if site not in sites:
        raise RegistryError(
            file, f"{prefix}.site", f"unknown site {site!r}; add [sites.{site}] or fix the id"
        )
    profile = _string(file, prefix, table, "profile", default="")
    lifecycle = _string(file, prefix, table, "lifecycle", default="active")
    if lifecycle not in LIFECYCLES:
        choices = ", ".join(LIFECYCLES)
        raise RegistryError(
            file, f"{prefix}.lifecycle", f"expected one of {choices}, got {lifecycle!r}"
        )
    capacity = None
    if "capacity_per_day" in table:
        capacity = capacity_per_day(src, f"{prefix}.capacity_per_day", table["capacity_per_day"])
    return StationEntry(station_id, site, profile, lifecycle, capacity,
                        install_by(file, prefix, table))


def _string(file: str, prefix: str, table: Mapping[str, object], name: str, *, default: str) -> str:
    value = table.get(name, default)
    if not isinstance(value, str):
        raise RegistryError(file, f"{prefix}.{name}", f"expected a string, got {_kind(value)}")
    return value


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"{type(value).__name__} {value}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, list):
        return "an array"
    return "a table" if isinstance(value, dict) else type(value).__name__
