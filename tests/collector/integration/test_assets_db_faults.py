"""An asset database the collector cannot open does not stop it: the fleet view, /metrics and
/readyz go on, the parts routes answer 503 with the reason, and once the file can be made the
records are written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agent.sim.fleet import registry_toml
from tests.support.collector_process import CollectorProcess
from tests.support.fleet_harness import FaultStation
from tests.support.mosquitto import MosquittoBroker, wait_for

pytestmark = pytest.mark.broker
SITE, NAME = "medan-baru", "medan-baru-01"


def test_collector_runs_on_without_its_asset_database(mosquitto: MosquittoBroker,
                                                      tmp_path: Path) -> None:
    collector = CollectorProcess(mosquitto.url, tmp_path / "collector",
                                 registry_toml([(SITE, NAME)]), client_id="pantau-assets-fault")
    blocked = collector.data_dir / "assets.sqlite3"
    blocked.mkdir(parents=True)  # a directory where the database file should be
    collector.start()
    station = FaultStation(SITE, NAME, mosquitto.url, tmp_path / NAME).start()
    try:
        wait_for(lambda: collector.states().get(NAME) == "online", 15, what="station online")
        status, body = collector.http("/api/v1/assets")
        assert status == 503 and "cannot read asset database" in json.loads(body)["error"]
        assert collector.http("/metrics")[0] == 200
        shutil.rmtree(blocked)  # the operator clears the way: the feed's retry opens it
        wait_for(lambda: collector.http(f"/api/v1/assets?station={NAME}")[0] == 200 and
                 json.loads(collector.http(f"/api/v1/assets?station={NAME}")[1])["count"] == 5,
                 90, interval=0.5, what="the kit's five devices in the register")
    finally:
        station.stop()
        collector.kill()
