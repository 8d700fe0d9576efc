"""The collector's opening-hours series, minute by minute, in promtool's series notation.

deploy/prometheus/tests/schedules.yml feeds the alert rules the pantau_site_*
and pantau_station_maintenance series of schedules-fleet.toml; this module
computes them with the collector's own code (registry loader, SiteSchedules),
so a test can check the hand-kept YAML against what the collector exports.

    python -m tests.deploy.schedule_series   # prints the series for the YAML
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from collector.registry import Registry, load_registry
from collector.site_schedule import SiteSchedules

REPO: Final = Path(__file__).resolve().parents[2]
FLEET: Final = REPO / "deploy" / "prometheus" / "tests" / "schedules-fleet.toml"
MINUTES: Final = 24 * 60  # promtool t=0 is Thu 1970-01-01 07:00 WIB; one day of samples
_SEGMENT: Final = re.compile(r"^(-?[\d.]+(?:e[+-]?\d+)?)(?:([+-][\d.]+))?x(\d+)$")


def expand(notation: str) -> list[float | None]:
    """promtool's `a+bxn` (n+1 values a, a+b, ...), `axn`, plain numbers and `_`."""
    values: list[float | None] = []
    for part in notation.split():
        if part == "_":
            values.append(None)
            continue
        found = _SEGMENT.match(part)
        if found is None:
            values.append(float(part))
            continue
        start, step, count = float(found[1]), float(found[2] or 0), int(found[3])
        values += [start + step * i for i in range(count + 1)]
    return values


def compress(values: list[float]) -> str:
    """Runs of equal values as `vxn` (n+1 samples), the form the YAML keeps."""
    parts: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        parts.append(f"{values[i]:g}x{j - i}" if j > i else f"{values[i]:g}")
        i = j + 1
    return " ".join(parts)


def site_series(registry: Registry, minutes: int = MINUTES) -> dict[str, list[float]]:
    """Series name with labels -> one value per minute, as /metrics would show them."""
    schedules = SiteSchedules()
    stations = sorted({s for info in registry.sites.values() for w in info.maintenance
                       for s in w.stations})
    series: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        series.setdefault(name, []).append(value)

    for minute in range(minutes + 1):
        schedules.refresh(registry, minute * 60.0)
        for site, hours in schedules.sites.items():
            add(f'pantau_site_open{{site="{site}"}}', float(hours.open))
            add(f'pantau_site_open_since_timestamp_seconds{{site="{site}"}}',
                hours.open_since or 0.0)
            add(f'pantau_site_maintenance{{site="{site}"}}', float(hours.maintenance is not None))
        on = schedules.stations_in_maintenance
        for station in stations:
            site = registry.stations[station].site
            add(f'pantau_station_maintenance{{site="{site}",station="{station}"}}',
                1.0 if station in on else 0.0)
    return series


def main() -> None:
    for name, values in site_series(load_registry(FLEET)).items():
        print(f"      - series: '{name}'\n        values: '{compress(values)}'")


if __name__ == "__main__":
    main()
