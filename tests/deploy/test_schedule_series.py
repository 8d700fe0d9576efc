"""schedules.yml feeds the alert rules the opening-hours series the collector really exports.

The promtool tests there are only as good as their pantau_site_* inputs: this
checks each of them, sample by sample, against the collector's own evaluation
of schedules-fleet.toml (tests/deploy/schedule_series.py), so a promtool case
called "holiday" or "WIT" is fed what the collector says on that holiday, in
that zone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.registry import load_registry
from tests.deploy.schedule_series import FLEET, compress, expand, site_series

TESTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "tests" / "schedules.yml"
SCHEDULE_FAMILIES = ("pantau_site_open{", "pantau_site_open_since_timestamp_seconds{",
                     "pantau_site_maintenance{", "pantau_station_maintenance{")


def fed_series() -> list[tuple[int, str, str]]:
    """(test group, series, values) of every opening-hours input series in schedules.yml."""
    doc: dict[str, Any] = yaml.safe_load(TESTS.read_text())
    return [
        (i, item["series"], item["values"])
        for i, group in enumerate(doc["tests"])
        for item in group["input_series"]
        if item["series"].startswith(SCHEDULE_FAMILIES)
    ]


@pytest.fixture(scope="module")
def exported() -> dict[str, list[float]]:
    return site_series(load_registry(FLEET))


def test_promtool_notation_round_trips() -> None:
    values = [0.0, 0.0, 1.0, 1.0, 1.0, 3600.0, -60.0]
    assert expand(compress(values)) == values
    assert expand("0+60x3 _ 5") == [0.0, 60.0, 120.0, 180.0, None, 5.0]


@pytest.mark.parametrize(("group", "series", "values"), fed_series())
def test_input_series_is_what_the_collector_exports(
    exported: dict[str, list[float]], group: int, series: str, values: str
) -> None:
    assert series in exported, f"test {group}: {series} is not a series of {FLEET.name}"
    fed = expand(values)
    truth = exported[series][: len(fed)]
    wrong = [minute for minute, (a, b) in enumerate(zip(fed, truth, strict=True)) if a != b]
    assert not wrong, (
        f"test {group}: {series} differs from the collector from minute {wrong[0]}: "
        f"the collector exports '{compress(exported[series])}'"
    )


def test_every_site_of_the_fleet_is_fed_somewhere(exported: dict[str, list[float]]) -> None:
    fed = {series for _, series, _ in fed_series()}
    opening = {name for name in exported if name.startswith("pantau_site_open{")}
    assert opening <= fed, f"sites without a promtool case: {sorted(opening - fed)}"
