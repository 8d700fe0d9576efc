"""Prometheus rules: promtool checks and unit tests, plus the alert contract.

The contract part loads the rules into a real Prometheus (loopback, private
data dir) and reads them back from /api/v1/rules: the same parse production
uses, and no YAML library needed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.binaries import PROMETHEUS, PROMTOOL, REPO, Server, http_json, run_tool

PROM_DIR = REPO / "deploy" / "prometheus"
RULE_FILES = [PROM_DIR / "rules.yml", PROM_DIR / "alerts.yml"]
RUNBOOKS = REPO / "docs" / "runbooks.md"
RUNBOOK_BASE = "https://github.com/pantau/pantau/blob/main/docs/runbooks.md#"

# DESIGN.md "Alerts (contract)".
DESIGN_ALERTS = (
    "PantauStationDown", "PantauComponentMissing", "PantauComponentFailed",
    "PantauCheckFailing", "PantauDiskAlmostFull", "PantauHostOverheating",
    "PantauClockSkew", "PantauStationNeverSeen", "PantauSiteDegraded",
    "PantauCollectorBrokerDisconnected", "PantauCollectorDown", "PantauFleetSilent",
    "PantauWatchdog", "PantauUnexpectedDevice", "PantauSiteUnreachable",
)
# Issue 12 (opening hours): contract additions.
SCHEDULE_ALERTS = ("PantauStationNotStarted", "PantauHolidayListStale")
# Issue 10 (the collector's store and registry): contract additions.
STORE_ALERTS = (
    "PantauCollectorStoreFailing", "PantauCollectorStoreReset", "PantauRegistryReloadFailed",
)
# Issue 13: the rollout deadline (docs/parts.md).
ROLLOUT_ALERTS = ("PantauRolloutBehind",)
# Issue 14 (collector replicas): the per-site inhibition source (docs/replicas.md).
REPLICA_ALERTS = ("PantauSiteUnobserved",)
# Issue 10: the agent's queue health on the wire.
AGENT_ALERTS = ("PantauAgentDroppingEvents",)
ALL_ALERTS = (DESIGN_ALERTS + SCHEDULE_ALERTS + STORE_ALERTS + ROLLOUT_ALERTS + REPLICA_ALERTS
              + AGENT_ALERTS)


def _ok(result: Any) -> None:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"


def test_rule_files_pass_promtool_check() -> None:
    _ok(run_tool(PROMTOOL, "check", "rules", *map(str, RULE_FILES)))


def test_example_prometheus_config_passes_promtool_check() -> None:
    _ok(run_tool(PROMTOOL, "check", "config", str(PROM_DIR / "prometheus.yml")))


def test_promtool_unit_tests_pass() -> None:
    tests = sorted((PROM_DIR / "tests").glob("*.yml"))
    assert tests, "no promtool tests found"
    _ok(run_tool(PROMTOOL, "test", "rules", *map(str, tests)))


@pytest.fixture(scope="module")
def loaded_alerts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """name -> rule as Prometheus itself loaded it."""
    workdir = tmp_path_factory.mktemp("prometheus")
    config = workdir / "prometheus.yml"
    config.write_text("rule_files:\n" + "".join(f"  - {p}\n" for p in RULE_FILES))

    def argv(port: int, wd: Path) -> list[str]:
        return [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={wd / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}"]

    server = Server(argv, workdir, "/-/ready").start()
    try:
        groups = http_json(server.url + "/api/v1/rules?type=alert")["data"]["groups"]
        yield {rule["name"]: rule for group in groups for rule in group["rules"]}
    finally:
        server.stop()


@pytest.mark.parametrize("name", ALL_ALERTS)
def test_design_alert_exists_with_labels_and_annotations(
    name: str, loaded_alerts: dict[str, Any]
) -> None:
    rule = loaded_alerts.get(name)
    assert rule is not None, f"{name} is a contract alert but has no rule"
    expected = "none" if name in ("PantauWatchdog", "PantauSiteUnobserved") else None
    severity = rule["labels"].get("severity")
    assert severity in ({expected} if expected else {"page", "ticket"}), (name, severity)
    for key in ("summary", "description", "runbook_url"):
        assert rule["annotations"].get(key, "").strip(), f"{name} lacks annotation {key}"
    assert rule["annotations"]["runbook_url"] == RUNBOOK_BASE + name.lower()


@pytest.mark.parametrize("name", [a for a in ALL_ALERTS if a != "PantauWatchdog"])
def test_alert_waits_longer_than_a_usb_reset(name: str, loaded_alerts: dict[str, Any]) -> None:
    assert loaded_alerts[name]["duration"] >= 60, f"{name}: `for` under a minute pages on blips"


def _github_slug(heading: str) -> str:
    """GitHub's anchor for a markdown heading: lowercase, punctuation dropped, spaces -> '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_runbook_anchor_exists(loaded_alerts: dict[str, Any]) -> None:
    headings = re.findall(r"^#{1,6}\s+(.+)$", RUNBOOKS.read_text(), flags=re.MULTILINE)
    anchors = {_github_slug(h) for h in headings}
    missing = {
        name: rule["annotations"]["runbook_url"]
        for name, rule in loaded_alerts.items()
        if rule["annotations"]["runbook_url"].split("#", 1)[1] not in anchors
    }
    assert not missing, f"runbook sections missing in {RUNBOOKS}: {missing}"


@pytest.mark.parametrize("name", ALL_ALERTS)
def test_every_alert_has_a_firing_promtool_case(name: str) -> None:
    """Each alert appears in a promtool test with a non-empty exp_alerts list."""
    text = "\n".join(p.read_text() for p in (PROM_DIR / "tests").glob("*.yml"))
    firing = re.search(
        rf"alertname: {name}\n\s+exp_alerts:(?! \[\])", text
    )
    assert firing, f"no promtool test expects {name} to fire"
