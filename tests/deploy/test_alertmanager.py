"""Alertmanager: config check, routing table, templates, and real inhibition.

The inhibition tests run the real `prometheus-alertmanager` on a free loopback
port with a copy of deploy/alertmanager (only the webhook URLs are rewritten to
a closed local port), post alerts through its API and read back which ones it
holds as inhibited.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.binaries import ALERTMANAGER, AMTOOL, REPO, Server, http_json, run_tool
from tests.support.mosquitto import free_port, wait_for

AM_DIR = REPO / "deploy" / "alertmanager"
CONFIG = AM_DIR / "alertmanager.yml"


def test_config_passes_amtool_check() -> None:
    result = run_tool(AMTOOL, "check-config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 inhibit rules" in result.stdout


ROUTES = [
    ("oncall", ["alertname=PantauStationDown", "severity=page", "site=helvetia", "station=h-01"]),
    ("oncall", ["alertname=PantauComponentMissing", "severity=page", "site=helvetia"]),
    ("oncall", ["alertname=PantauSiteUnreachable", "severity=page", "site=helvetia"]),
    ("oncall", ["alertname=PantauCollectorDown", "severity=page"]),
    ("oncall", ["alertname=PantauStationNotStarted", "severity=page", "site=helvetia"]),
    ("tickets", ["alertname=PantauHolidayListStale", "severity=ticket"]),
    ("oncall", ["alertname=PantauCollectorStoreFailing", "severity=page"]),
    ("tickets", ["alertname=PantauCollectorStoreReset", "severity=ticket"]),
    ("tickets", ["alertname=PantauRegistryReloadFailed", "severity=ticket"]),
    ("tickets", ["alertname=PantauDiskAlmostFull", "severity=ticket", "site=helvetia"]),
    ("tickets", ["alertname=PantauAgentDroppingEvents", "severity=ticket", "site=helvetia"]),
    ("tickets", ["alertname=PantauUnexpectedDevice", "severity=ticket", "site=helvetia"]),
    ("tickets", ["alertname=SomethingNew"]),  # unknown severity: someone reads it next day
    ("deadmans-switch", ["alertname=PantauWatchdog", "severity=none"]),
    ("nobody", ["alertname=PantauSiteUnobserved", "severity=none", "site=helvetia"]),
]


@pytest.mark.parametrize(("receiver", "labels"), ROUTES)
def test_route_sends_alert_to_intended_receiver(receiver: str, labels: list[str]) -> None:
    result = run_tool(AMTOOL, "config", "routes", "test", f"--config.file={CONFIG}",
                      f"--verify.receivers={receiver}", *labels)
    assert result.returncode == 0, f"{labels}: {result.stdout}{result.stderr}"


def _render(template: str, alerts: list[dict[str, Any]], tmp_path: Path) -> str:
    data = {"receiver": "oncall", "status": "firing", "alerts": alerts,
            "groupLabels": {"alertname": alerts[0]["labels"]["alertname"], "site": "helvetia"},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am"}
    data_file = tmp_path / "data.json"
    data_file.write_text(json.dumps(data))
    result = run_tool(AMTOOL, "template", "render", f"--template.glob={AM_DIR}/templates/*.tmpl",
                      f"--template.data={data_file}", f"--template.text={template}")
    assert result.returncode == 0, result.stderr
    return result.stdout


def _alert(name: str, **labels: str) -> dict[str, Any]:
    return {"status": "firing", "labels": {"alertname": name, **labels},
            "annotations": {"summary": f"{name} summary", "description": "details",
                            "runbook_url": f"https://example/runbooks.md#{name.lower()}"},
            "startsAt": "2024-11-29T17:06:40Z", "endsAt": "0001-01-01T00:00:00Z"}


@pytest.mark.parametrize(("template", "expected"), [
    ('{{ template "pantau.en.title" . }}', "[FIRING:1] PantauComponentMissing - site helvetia"),
    ('{{ template "pantau.en.text" . }}', "Runbook: https://example/runbooks.md#pantaucomponentmissing"),
    ('{{ template "pantau.id.title" . }}', "[AKTIF:1] PantauComponentMissing - kecamatan helvetia"),
    ('{{ template "pantau.id.telegram" . }}',
     "Perangkat wajib fingerprint di stasiun h-01 (helvetia) tidak terdeteksi"),
])
def test_templates_render_alert(template: str, expected: str, tmp_path: Path) -> None:
    alert = _alert("PantauComponentMissing", severity="page", site="helvetia",
                   station="h-01", component="fingerprint")
    assert expected in _render(template, [alert], tmp_path)


def test_bahasa_template_has_a_sentence_for_every_alert() -> None:
    rules = (REPO / "deploy" / "prometheus" / "alerts.yml").read_text()
    names = set(re.findall(r"- alert: (\w+)", rules))
    template = (AM_DIR / "templates" / "pantau.id.tmpl").read_text()
    missing = {n for n in names if f'eq $l.alertname "{n}"' not in template}
    assert names and not missing, f"no Bahasa Indonesia sentence for {sorted(missing)}"


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("alertmanager")
    shutil.copytree(AM_DIR / "templates", workdir / "templates")
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: no notification leaves
    (workdir / "alertmanager.yml").write_text(
        CONFIG.read_text().replace("http://127.0.0.1:9097", closed))

    def argv(port: int, wd: Path) -> list[str]:
        return [ALERTMANAGER, f"--config.file={wd / 'alertmanager.yml'}",
                f"--storage.path={wd / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address="]

    server = Server(argv, workdir, "/-/ready").start()
    yield server
    server.stop()


def _post(am: Server, *alerts: dict[str, str]) -> None:
    now = datetime.now(UTC)
    http_json(am.url + "/api/v2/alerts", [
        {"labels": labels, "startsAt": now.isoformat(),
         "endsAt": (now + timedelta(minutes=10)).isoformat()} for labels in alerts])


def _inhibited(am: Server, labels: dict[str, str]) -> bool:
    for alert in http_json(am.url + "/api/v2/alerts"):
        if alert["labels"] == labels:
            return bool(alert["status"]["inhibitedBy"])
    raise AssertionError(f"alert {labels} not held by Alertmanager")


INHIBITIONS = [
    pytest.param(  # station down mutes its own parts, not a neighbour's
        {"alertname": "PantauStationDown", "severity": "page", "site": "s1", "station": "s1-01"},
        {"alertname": "PantauComponentMissing", "severity": "page", "site": "s1",
         "station": "s1-01", "component": "fingerprint"},
        {"alertname": "PantauComponentMissing", "severity": "page", "site": "s1",
         "station": "s1-02", "component": "fingerprint"}, id="station-down-mutes-its-parts"),
    pytest.param(  # a kit that did not come up this morning: its old part report is muted
        {"alertname": "PantauStationNotStarted", "severity": "page", "site": "s5",
         "station": "s5-01"},
        {"alertname": "PantauComponentMissing", "severity": "page", "site": "s5",
         "station": "s5-01", "component": "iris"},
        {"alertname": "PantauComponentMissing", "severity": "page", "site": "s5",
         "station": "s5-02", "component": "iris"}, id="not-started-mutes-its-parts"),
    pytest.param(  # a site's link down mutes that site's station alerts only
        {"alertname": "PantauSiteUnreachable", "severity": "page", "site": "s2"},
        {"alertname": "PantauStationDown", "severity": "page", "site": "s2", "station": "s2-01"},
        {"alertname": "PantauStationDown", "severity": "page", "site": "s3", "station": "s3-01"},
        id="site-unreachable-mutes-its-stations"),
    pytest.param(  # no collector with the broker sees s4: its station alerts only
        {"alertname": "PantauSiteUnobserved", "severity": "none", "site": "s4"},
        {"alertname": "PantauCheckFailing", "severity": "page", "site": "s4",
         "station": "s4-01", "check": "enrollment-server"},
        {"alertname": "PantauCheckFailing", "severity": "page", "site": "s6",
         "station": "s6-01", "check": "enrollment-server"}, id="unobserved-site-mutes-its-own"),
]


@pytest.mark.parametrize(("source", "muted", "kept"), INHIBITIONS)
def test_real_alertmanager_inhibits(
    alertmanager: Server, source: dict[str, str], muted: dict[str, str], kept: dict[str, str]
) -> None:
    _post(alertmanager, source, muted, kept)
    wait_for(lambda: _inhibited(alertmanager, muted), 10, what=f"{muted} inhibited")
    assert not _inhibited(alertmanager, kept)
    assert not _inhibited(alertmanager, source)


def test_one_replica_losing_the_broker_mutes_nothing_the_other_sees(alertmanager: Server) -> None:
    """Replica a lost the broker, b has it: b's alerts (the rules leave a's frozen view
    out, so they carry no instance) still go out, and so do the watchdog and a's page."""
    lost = {"alertname": "PantauCollectorBrokerDisconnected", "severity": "page",
            "instance": "collector-a:9620"}
    seen = [{"alertname": "PantauComponentMissing", "severity": "page", "site": "s7",
             "station": "s7-01", "component": "fingerprint"},
            {"alertname": "PantauSiteUnreachable", "severity": "page", "site": "s8"},
            {"alertname": "PantauWatchdog", "severity": "none"}]
    control = ({"alertname": "PantauSiteUnobserved", "severity": "none", "site": "s9"},
               {"alertname": "PantauStationDown", "severity": "page", "site": "s9",
                "station": "s9-01"})
    _post(alertmanager, lost, *seen, *control)
    # Posted together: once the control is muted, every inhibition has been worked out.
    wait_for(lambda: _inhibited(alertmanager, control[1]), 10, what="control inhibited")
    assert [_inhibited(alertmanager, a) for a in (lost, *seen)] == [False] * 4
