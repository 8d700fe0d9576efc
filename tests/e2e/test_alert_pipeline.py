"""End to end, real processes: simulated agents → Mosquitto → collector →
Prometheus (our rules) → Alertmanager (our routes and inhibitions) → a webhook.

Alert `for:` and grouping delays are scaled by TIME_SCALE (their order kept),
so minutes in production are seconds here.
"""

from __future__ import annotations

import json
import random
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.sim.fleet import SimFleet
from stack.central import CentralStack
from tests.support.alert_webhook import Webhook
from tests.support.mosquitto import wait_for

TIME_SCALE = 0.02  # 5 min → 6 s
SITES = ("kota-a", "kota-b")
PAIRS = [(site, f"{site}-{n:02d}") for site in SITES for n in (1, 2)]
REGISTRY = "\n".join(
    [f'[sites.{s}]\nname = "{s}"\nregion = "e2e"\n' for s in SITES]
    + [
        f'[stations.{st}]\nsite = "{s}"\nprofile = "ektp-enrollment"\nlifecycle = "active"\n'
        for s, st in PAIRS
    ]
)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[CentralStack, SimFleet, Webhook]]:
    hook = Webhook()
    (tmp_path / "fleet.toml").write_text(REGISTRY)
    central = CentralStack(
        tmp_path / "central",
        tmp_path / "fleet.toml",
        time_scale=TIME_SCALE,
        webhook_url=hook.url,
        scrape_interval_s=0.5,
    ).start()
    fleet = SimFleet(
        central.url("mosquitto"),
        PAIRS,
        tmp_path / "stations",
        seed=random.randrange(1 << 16),
        heartbeat_s=1.0,
        poll_s=0.5,
    )
    fleet.start()
    try:
        yield central, fleet, hook
    finally:
        fleet.stop()
        central.stop()
        hook.server.shutdown()


def _api(central: CentralStack, path: str) -> Any:
    with urllib.request.urlopen(central.url("collector") + path, timeout=5) as resp:
        return json.loads(resp.read())


def _inhibited(central: CentralStack, station: str, alertname: str) -> bool:
    url = f"{central.url('alertmanager')}/api/v2/alerts?filter=station%3D%22{station}%22"
    with urllib.request.urlopen(url, timeout=5) as resp:
        alerts = json.loads(resp.read())
    return any(a["labels"]["alertname"] == alertname and a["status"]["inhibitedBy"] for a in alerts)


def _station(fleet: SimFleet, name: str) -> Any:
    return next(s for s in fleet.stations if s.name == name)


def test_unplug_and_station_death_reach_the_webhook(
    stack: tuple[CentralStack, SimFleet, Webhook],
) -> None:
    central, fleet, hook = stack
    online: Callable[[], bool] = lambda: all(  # noqa: E731
        s["state"] == "online" for s in _api(central, "/api/v1/stations")["stations"]
    )
    wait_for(online, 60, what="every simulated station online at the collector")

    scanner_station, dying = "kota-a-01", "kota-b-01"
    unplugged = time.monotonic()
    _station(fleet, scanner_station).unplug("fingerprint")
    got = hook.wait(
        "firing", "PantauComponentMissing", station=scanner_station, component="fingerprint"
    )
    print(
        f"unplug → PantauComponentMissing at the webhook: {got - unplugged:.1f} s "
        f"(rule for: 2m x {TIME_SCALE} = {120 * TIME_SCALE:.1f} s)"
    )

    # The dying station already lacks its camera: once it is down, that alert is
    # inhibited by PantauStationDown instead of paging on its own.
    _station(fleet, dying).unplug("camera")
    hook.wait("firing", "PantauComponentMissing", station=dying, component="camera")
    killed = time.monotonic()
    _station(fleet, dying).crash()
    got = hook.wait("firing", "PantauStationDown", station=dying)
    print(f"station killed → PantauStationDown at the webhook: {got - killed:.1f} s")
    wait_for(
        lambda: _inhibited(central, dying, "PantauComponentMissing"),
        30,
        what="the dead station's part alert inhibited by PantauStationDown",
    )

    _station(fleet, dying).restart()
    _station(fleet, dying).replug("camera")
    _station(fleet, scanner_station).replug("fingerprint")
    hook.wait("resolved", "PantauStationDown", station=dying)
    hook.wait("resolved", "PantauComponentMissing", station=scanner_station)

    assert hook.names_for(dying) == {"PantauStationDown", "PantauComponentMissing"}
    assert hook.names_for(scanner_station) == {"PantauComponentMissing"}
    for quiet in ("kota-a-02", "kota-b-02"):
        assert hook.names_for(quiet) == set(), f"{quiet} was healthy throughout"
