"""Grafana dashboards: structure, and every panel query run against a real Prometheus.

The stack is real (tests/deploy/demo_fleet.py): Prometheus with the deploy/
rules scrapes a collector fed by `pantau-agent simulate` and one hand-made
broken station. Template variables are replaced by values of that fleet, the
way Grafana would render them, and each query must parse AND return data.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.deploy.demo_fleet import (
    BROKEN_SITE,
    BROKEN_STATION,
    DemoFleet,
    collector_installed,
)
from tests.support.mosquitto import wait_for

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m"}
# Values as Grafana would substitute them for the demo fleet: the fleet
# dashboard's multi-value `site` at its default (All = .*), the others on the
# broken station so that its parts, checks and alerts panels have rows.
VALUES = {
    "pantau-fleet": {"site": ".*"},
    "pantau-site": {"site": BROKEN_SITE},
    "pantau-station": {"site": BROKEN_SITE, "station": BROKEN_STATION},
}


def load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def panel_targets() -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    for path in DASHBOARDS:
        doc = load(path)
        for p in doc["panels"]:
            for t in p.get("targets", []):
                yield doc["uid"], f"{doc['uid']}/{p['title']}/{t['refId']}", p, t


def render(expr: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match[1] or match[2]
        return {**BUILTINS, **values}[name]

    return VARIABLE.sub(one, expr)


def provisioned_uid() -> str:
    doc = yaml.safe_load((GRAFANA / "provisioning/datasources/pantau.yml").read_text())
    (source,) = doc["datasources"]
    return str(source["uid"])


def build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_dashboards",
                                                  GRAFANA / "build_dashboards.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- structure ---------------------------------------------------------------

def test_three_dashboards_are_provisioned() -> None:
    assert {load(p)["uid"] for p in DASHBOARDS} == set(VALUES)
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/pantau.yml").read_text())
    assert provider["providers"][0]["type"] == "file"


def test_json_files_are_what_the_generator_writes() -> None:
    """Edit build_dashboards.py and rerun it; never the JSON alone (they would drift)."""
    module = build_module()
    for name, build in module.DASHBOARDS.items():
        assert (GRAFANA / "dashboards" / name).read_text(encoding="utf-8") == \
            module.render(build), f"{name} is stale: run python3 deploy/grafana/build_dashboards.py"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_datasource_is_a_variable_defaulting_to_the_provisioned_one(path: Path) -> None:
    doc = load(path)
    (var,) = [v for v in doc["templating"]["list"] if v["type"] == "datasource"]
    assert (var["name"], var["query"]) == ("datasource", "prometheus")
    assert var["current"]["value"] == provisioned_uid()
    assert doc["templating"]["list"][0] is var  # first: the other variables query through it
    # The provisioned uid is that default and nowhere else: no panel hard-codes it.
    assert json.dumps(doc).count(f'"{provisioned_uid()}"') == 1


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_structure(path: Path) -> None:
    doc, uid = load(path), "${datasource}"
    assert 36 <= doc["schemaVersion"] <= 41
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {path.name}"
    titles = [p["title"] for p in doc["panels"]]
    assert len(titles) == len(set(titles)), f"two panels share a title in {path.name}"
    defined = {v["name"] for v in doc["templating"]["list"]}
    assert defined <= {"datasource", "site", "station"} and "site" in defined
    for var in doc["templating"]["list"]:
        if var["type"] != "datasource":
            assert var["datasource"]["uid"] == uid, var["name"]
    for p in doc["panels"]:
        assert p["datasource"]["uid"] == uid, p["title"]
        assert all(t["datasource"]["uid"] == uid for t in p["targets"]), p["title"]
        used = {m[1] or m[2] for t in p["targets"] for m in VARIABLE.finditer(t["expr"])}
        assert used - set(BUILTINS) <= defined, f"{p['title']}: undefined {used - defined}"
        assert p["gridPos"]["x"] + p["gridPos"]["w"] <= 24, f"{p['title']} overflows the grid"


# --- queries against a real Prometheus -------------------------------------

@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoFleet]:
    if not collector_installed():
        pytest.skip(f"no pantau-collector next to {sys.executable}: run `make deps` "
                    "(pip install -e .) first")
    demo = DemoFleet(tmp_path_factory.mktemp("grafana-stack")).start()
    try:
        yield demo
    finally:
        demo.stop()


def query_returns(fleet: DemoFleet, expr: str, instant: bool) -> list[Any]:
    if instant:
        reply = fleet.prometheus("query", query=expr)
    else:
        now = fleet.prometheus("query", query="time()")["data"]["result"][0]
        end = float(now)
        reply = fleet.prometheus("query_range", query=expr, start=str(end - 300),
                                 end=str(end), step="1")
    assert reply["status"] == "success", f"{expr}: {reply}"
    result: list[Any] = reply["data"]["result"]
    return result


def invalid_reason(fleet: DemoFleet, expr: str) -> str | None:
    """Prometheus's parse error, or None: asked directly so a typo fails at once."""
    import urllib.error

    try:
        fleet.prometheus("query", query=expr)
    except urllib.error.HTTPError as err:
        return str(json.load(err).get("error"))
    return None


@pytest.mark.slow
@pytest.mark.parametrize(("uid", "name", "panel", "target"), list(panel_targets()),
                         ids=[name for _, name, _, _ in panel_targets()])
def test_panel_query_returns_data(fleet: DemoFleet, uid: str, name: str,
                                  panel: dict[str, Any], target: dict[str, Any]) -> None:
    expr = render(target["expr"], VALUES[uid])
    assert invalid_reason(fleet, expr) is None, f"{name}: invalid PromQL: {expr}"
    # Rules and alerts need a few evaluations after the fleet comes up.
    result = wait_for(lambda: query_returns(fleet, expr, bool(target.get("instant"))),
                      timeout=25, interval=0.5, what=f"data for {name}: {expr}")
    assert result


@pytest.mark.slow
@pytest.mark.parametrize(("variable", "expected"), [
    ("site", {"medan-amplas", "medan-area", BROKEN_SITE}),
    ("station", {BROKEN_STATION}),
])
def test_variable_queries_list_the_fleet(fleet: DemoFleet, variable: str,
                                         expected: set[str]) -> None:
    doc = load(GRAFANA / "dashboards" / "pantau-station.json")
    (var,) = [v for v in doc["templating"]["list"] if v["name"] == variable]
    match = re.fullmatch(r"label_values\((.+), (\w+)\)", var["query"]["query"])
    assert match, f"unexpected variable query {var['query']['query']}"
    selector = render(match[1], VALUES["pantau-station"])
    values = wait_for(lambda: set(fleet.prometheus(f"label/{match[2]}/values",
                                                   **{"match[]": selector})["data"]),
                      timeout=15, interval=0.5, what=f"values of ${variable}")
    assert expected <= values


def rows(fleet: DemoFleet, uid: str, title: str, ref: str = "A") -> list[Any]:
    (target,) = [t for _, name, _, t in panel_targets() if name == f"{uid}/{title}/{ref}"]
    return query_returns(fleet, render(target["expr"], VALUES[uid]), instant=True)


def labelled(result: list[Any], label: str) -> dict[str, float]:
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in result}


# What the panels must say about the broken station (card reader unplugged, a
# flash drive attached, the ministry VPN check failing), not just "some data".
MEANING = [
    ("pantau-fleet", "Parts missing or failed, by role", "component", {"card-reader": 1.0}),
    ("pantau-fleet", "Unexpected USB devices", "station", {BROKEN_STATION: 1.0}),
    ("pantau-site", "Parts not ok", "component", {"card-reader": 3.0}),  # 3 = missing
    ("pantau-station", "Components", "component",
     {"card-reader": 3.0, "fingerprint": 0.0, "iris": 0.0}),
    ("pantau-station", "State", "station", {BROKEN_STATION: 0.0}),  # 0 = online
    ("pantau-site", "Network checks", "check", {"enrollment-server": 1.0, "ministry-vpn": 0.0}),
]


@pytest.mark.slow
@pytest.mark.parametrize(("uid", "title", "label", "expected"), MEANING,
                         ids=[f"{m[0]}/{m[1]}" for m in MEANING])
def test_panel_shows_the_broken_station(fleet: DemoFleet, uid: str, title: str, label: str,
                                        expected: dict[str, float]) -> None:
    def seen() -> dict[str, float]:
        values = labelled(rows(fleet, uid, title), label)
        return values if expected.items() <= values.items() else {}

    wait_for(seen, timeout=25, interval=0.5, what=f"{uid}/{title} showing {expected}")


@pytest.mark.slow
def test_alerts_panel_lists_the_missing_part(fleet: DemoFleet) -> None:
    def names() -> set[str]:
        return set(labelled(rows(fleet, "pantau-fleet", "Alerts firing"), "alertname"))

    wait_for(lambda: {"PantauComponentMissing", "PantauUnexpectedDevice"} <= names(),
             timeout=25, interval=0.5, what="alerts of the broken station on the fleet board")
    assert "PantauWatchdog" not in names()
