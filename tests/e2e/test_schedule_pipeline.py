"""End to end with opening hours, real processes: simulated agents → Mosquitto →
collector (with a compressed office day) → Prometheus (our rules) → Alertmanager
(our routes) → a webhook.

The office day runs 1 / TIME_SCALE times faster than real time, the same factor
the stack scales every `for:` by, so "30 minutes after opening" is 30 office
minutes here too. The offices close for lunch 12:00-13:00: a kit killed after
closing pages nobody; still down after opening it pages as
PantauStationNotStarted; a part unplugged while open pages as before.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.sim.fleet import SimFleet
from stack.central import CentralStack
from tests.e2e.test_alert_pipeline import _api, _station
from tests.support.alert_webhook import Webhook
from tests.support.mosquitto import wait_for

TIME_SCALE = 0.01  # 5 min → 3 s; 30 min → 18 s
DAY_LENGTH_S = 86400 * TIME_SCALE  # an office day in 14.4 real minutes: 1 office min = 0.6 s
SITES = ("kota-a", "kota-b")
PAIRS = [(site, f"{site}-{n:02d}") for site in SITES for n in (1, 2)]
EVERY_DAY = ", ".join(f'{day} = ["00:00-12:00", "13:00-24:00"]'
                      for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
REGISTRY = "\n".join(
    ['[schedule]\ntimezone = "Asia/Jakarta"\nholidays = [2000-01-01]\n'
     f"hours = {{ {EVERY_DAY} }}\n"]
    + [f'[sites.{s}]\nname = "{s}"\nregion = "e2e"\n' for s in SITES]
    + [f'[stations.{st}]\nsite = "{s}"\nprofile = "ektp-enrollment"\n' for s, st in PAIRS]
)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[CentralStack, SimFleet, Webhook]]:
    hook = Webhook()
    (tmp_path / "fleet.toml").write_text(REGISTRY)
    central = CentralStack(
        tmp_path / "central", tmp_path / "fleet.toml", time_scale=TIME_SCALE,
        webhook_url=hook.url, scrape_interval_s=0.5, start_at="11:50",
        day_length_s=DAY_LENGTH_S,
    ).start()
    fleet = SimFleet(central.url("mosquitto"), PAIRS, tmp_path / "stations",
                     seed=random.randrange(1 << 16), heartbeat_s=1.0, poll_s=0.5)
    fleet.start()
    try:
        yield central, fleet, hook
    finally:
        fleet.stop()
        central.stop()
        hook.server.shutdown()


def hours(central: CentralStack, site: str) -> dict[str, Any]:
    sites = _api(central, "/api/v1/sites")["sites"]
    return next(s["hours"] for s in sites if s["site"] == site)  # type: ignore[no-any-return]


def office_clock(central: CentralStack) -> str:
    return datetime.fromtimestamp(central.office_time(), ZoneInfo("Asia/Jakarta")).strftime(
        "%H:%M")


def test_a_kit_killed_after_closing_pages_only_when_it_misses_the_opening(
    stack: tuple[CentralStack, SimFleet, Webhook],
) -> None:
    central, fleet, hook = stack
    wait_for(lambda: all(s["state"] == "online" for s in
                         _api(central, "/api/v1/stations")["stations"]),
             60, what="every simulated station online at the collector")
    wait_for(lambda: hours(central, "kota-a")["state"] == "closed", 60,
             what="the offices closed for lunch (12:00 office time)")
    killed = time.time()
    reopens = hours(central, "kota-a")["next_open"]
    # Unguarded, PantauStationDown would reach the webhook ~4 s after the kill
    # (for: 5m scaled to 3 s): the lunch break must be longer than that.
    assert reopens - killed > 8, f"the stack started too slowly: it is {office_clock(central)}"
    _station(fleet, "kota-a-01").crash()

    wait_for(lambda: hours(central, "kota-a")["state"] == "open", reopens - killed + 30,
             what="the offices open again (13:00 office time)")
    opened = time.monotonic()  # the webhook's clock
    got = hook.wait("firing", "PantauStationNotStarted", timeout=90, station="kota-a-01")
    print(f"kill at lunch → PantauStationNotStarted {got - opened:.1f} s after opening "
          f"(for: 30m x {TIME_SCALE} = {1800 * TIME_SCALE:.0f} s)")
    assert hook.names_for("kota-a-01") == {"PantauStationNotStarted"}  # never StationDown

    _station(fleet, "kota-a-02").unplug("fingerprint")
    hook.wait("firing", "PantauComponentMissing", station="kota-a-02", component="fingerprint")
    assert hook.find("firing", "PantauSiteUnreachable", site="kota-a") is None
    for quiet in ("kota-b-01", "kota-b-02"):
        assert hook.names_for(quiet) == set(), f"{quiet} was healthy throughout"
