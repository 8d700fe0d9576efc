"""Rollout deadlines on a real `pantau-collector run`: /metrics and the status page.

medan-baru's own `install_by` has long passed and two stations are still planned
(one with a later date of its own); medan-kota is in WITA with a date far ahead;
binjai has a planned station but no date. Then medan-baru-03 starts reporting
(a real agent over a simulated kit): it is no longer planned, so the site's due
time moves to the remaining station's own date.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support.collector_process import CollectorProcess
from tests.support.fleet_harness import FaultStation
from tests.support.mosquitto import MosquittoBroker, wait_for

pytestmark = pytest.mark.broker
FLEET = """
[sites.medan-baru]
name = "Medan Baru"
region = "Kota Medan"
install_by = 2020-01-01

[sites.medan-kota]
name = "Medan Kota"
region = "Kota Medan"
install_by = 2099-06-30
schedule = { timezone = "Asia/Makassar", hours = { mon = ["08:00-16:00"] } }

[sites.binjai]
name = "Binjai"
region = "Kota Binjai"

[stations.medan-baru-03]
site = "medan-baru"
lifecycle = "planned"

[stations.medan-baru-04]
site = "medan-baru"
lifecycle = "planned"
install_by = 2099-12-31

[stations.medan-kota-05]
site = "medan-kota"
lifecycle = "planned"

[stations.binjai-01]
site = "binjai"
lifecycle = "planned"
"""


def midnight_after(year: int, month: int, day: int, zone: str) -> float:
    return datetime(year, month, day, tzinfo=ZoneInfo(zone)).timestamp() + 86400


def due(collector: CollectorProcess) -> dict[str, float]:
    rows = re.findall(r'^pantau_site_rollout_due_timestamp_seconds\{site="([^"]+)"\} (\S+)$',
                      collector.metrics(), re.M)
    return {site: float(value) for site, value in rows}


@pytest.fixture
def collector(mosquitto: MosquittoBroker, tmp_path: Path) -> Iterator[CollectorProcess]:
    proc = CollectorProcess(mosquitto.url, tmp_path / "collector", FLEET,
                            client_id="pantau-rollout-test")
    proc.start()
    yield proc
    proc.kill()


def test_deadlines_on_metrics_and_page(collector: CollectorProcess,
                                       mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    wait_for(lambda: due(collector), 10, what="rollout deadlines on /metrics")
    assert due(collector) == {
        "medan-baru": midnight_after(2020, 1, 1, "Asia/Jakarta"),  # no schedule: WIB
        "medan-kota": midnight_after(2099, 6, 30, "Asia/Makassar"),
    }
    for lang, note in (("en", "deadline 2020-01-01 passed"),
                       ("id", "batas waktu 2020-01-01 terlewati")):
        page = html.unescape(re.sub(r"<[^>]+>", "", collector.http(f"/?lang={lang}")[1].decode()))
        assert note in page
    station = FaultStation("medan-baru", "medan-baru-03", mosquitto.url, tmp_path / "agent")
    station.start()
    try:
        wait_for(lambda: due(collector).get("medan-baru") == midnight_after(
            2099, 12, 31, "Asia/Jakarta"), 20, what="medan-baru-03 reporting: the next date")
        page = collector.http("/?lang=en")[1].decode()
        assert "install by 2099-12-31" in html.unescape(page)
    finally:
        station.stop()
