"""The HA variant of the dev stack (stack/central_ha.py) on real Prometheus and Alertmanager.

Both Prometheus scrape the collector and send to both Alertmanagers; the
Alertmanagers gossip on loopback ports and see each other (their
/api/v2/status lists 2 peers) and share what they gossip (a silence).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from stack.central_ha import ALERTMANAGERS, PROMETHEUS, HaCentralStack
from tests.deploy.binaries import http_json
from tests.support.mosquitto import wait_for

REGISTRY = """
[sites.medan-baru]
name = "Medan Baru"

[stations.medan-baru-01]
site = "medan-baru"
profile = "ektp-enrollment"
lifecycle = "active"
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HaCentralStack]:
    workdir = tmp_path_factory.mktemp("ha-stack")
    (workdir / "fleet.toml").write_text(REGISTRY)
    central = HaCentralStack(workdir / "central", workdir / "fleet.toml", time_scale=0.02,
                             scrape_interval_s=0.5).start()
    yield central
    central.stop()


def query(stack: HaCentralStack, prometheus: str, expr: str) -> list[dict[str, Any]]:
    url = f"{stack.url(prometheus)}/api/v1/query?query={expr}"
    result: list[dict[str, Any]] = http_json(url)["data"]["result"]
    return result


@pytest.mark.parametrize("prometheus", PROMETHEUS)
def test_each_prometheus_scrapes_the_collector(stack: HaCentralStack, prometheus: str) -> None:
    up = wait_for(lambda: query(stack, prometheus, 'up{job="pantau-collector"}==1'), 20,
                  what=f"{prometheus} scraping the collector")
    assert len(up) == 1


@pytest.mark.parametrize("prometheus", PROMETHEUS)
def test_each_prometheus_sends_to_both_alertmanagers(stack: HaCentralStack,
                                                     prometheus: str) -> None:
    def active() -> set[str]:
        found = http_json(f"{stack.url(prometheus)}/api/v1/alertmanagers")["data"]
        return {a["url"].split("/")[2] for a in found["activeAlertmanagers"]}
    wanted = {f"127.0.0.1:{stack.ports[name]}" for name in ALERTMANAGERS}
    wait_for(lambda: active() == wanted, 20, what=f"{prometheus}'s alertmanagers")


@pytest.mark.parametrize("alertmanager", ALERTMANAGERS)
def test_the_alertmanagers_form_one_cluster(stack: HaCentralStack, alertmanager: str) -> None:
    def peers() -> list[dict[str, Any]]:
        cluster = http_json(f"{stack.url(alertmanager)}/api/v2/status")["cluster"]
        return list(cluster.get("peers") or []) if cluster["status"] == "ready" else []
    found = wait_for(lambda: len(peers()) == 2 and peers(), 30, what=f"{alertmanager} peers")
    assert {p["address"] for p in found} == {
        f"127.0.0.1:{stack.ports[f'{name}-gossip']}" for name in ALERTMANAGERS}


def test_a_silence_made_on_one_alertmanager_reaches_the_other(stack: HaCentralStack) -> None:
    now = datetime.now(UTC)
    silence = {"matchers": [{"name": "site", "value": "medan-baru", "isRegex": False}],
               "startsAt": now.isoformat(), "endsAt": (now + timedelta(hours=1)).isoformat(),
               "createdBy": "test", "comment": "gossip"}
    made = http_json(f"{stack.url(ALERTMANAGERS[0])}/api/v2/silences", silence)["silenceID"]

    def ids() -> set[str]:
        found = http_json(f"{stack.url(ALERTMANAGERS[1])}/api/v2/silences")
        return {s["id"] for s in found}
    wait_for(lambda: made in ids(), 30, what="the silence gossiped to the other node")
