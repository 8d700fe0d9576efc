"""`make test-ha`: no single point of failure, proven by kill -9 of one of each tier.

While simulated stations send events (their parts toggled, tests/support/
fleet_harness.py) and one station has a part unplugged, the test kills -9 in
turn: the NATS node the stations are on, collector replica a (restarted after
events were made while it was away), one Prometheus and one Alertmanager.
Then it asserts:
- 0 events lost: each replica's history holds every committed event exactly
  once, replica a's from its durable session once it is back;
- no notification for a healthy station;
- the part alert reached the webhook at least once and at most twice (an
  Alertmanager cluster losing a node is at-least-once), and its resolution
  still arrives through the survivors.

Alert `for:` and grouping delays are scaled as in the e2e test (stack/central.py,
`time_scale`), by TIME_SCALE = 0.05: a broker failover (~8 s here) stays shorter
than the scaled PantauStationDown `for:` (5m -> 15 s), as ~15 s is shorter than
5 min in production. At 0.02 the test would demand more than production does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.central_ha import ALERTMANAGERS, PROMETHEUS
from tests.faults.checks import assert_exact, settle
from tests.faults.test_broker_failover import moved
from tests.ha.rig import (
    REPLICAS,
    PairOnly,
    alert_views,
    gap_events,
    history_complete,
    replica,
)
from tests.support.alert_webhook import Webhook
from tests.support.collector_process import CollectorProcess
from tests.support.fleet_harness import EventPump, FaultStation, make_fleet
from tests.support.mosquitto import wait_for
from tests.support.nats_plain import PlainNatsCluster

pytestmark = [pytest.mark.ha, pytest.mark.broker, pytest.mark.slow]

TIME_SCALE = 0.05  # PantauComponentMissing 2m -> 6 s, PantauStationDown 5m -> 15 s
PART = "fingerprint"
PEER_TIMEOUT_S = 15  # Alertmanager's --cluster.peer-timeout default: when the 2nd node sends


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[PlainNatsCluster, list[FaultStation],
                                          dict[str, CollectorProcess], PairOnly, Webhook]]:
    cluster = PlainNatsCluster(tmp_path / "nats").start()
    # The part station, 3 healthy ones, 2 busy ones (events): see the test.
    fleet = make_fleet(cluster.urls, tmp_path / "stations", 6)
    collectors = {name: replica(cluster, fleet, tmp_path, name, skip)
                  for name, skip in zip(REPLICAS, (1, 2), strict=True)}
    hook = Webhook()
    stack = PairOnly(tmp_path / "central", tmp_path / "collector-a" / "fleet.toml",
                     time_scale=TIME_SCALE, webhook_url=hook.url, scrape_interval_s=0.5,
                     collectors=[f"127.0.0.1:{c.port}" for c in collectors.values()])
    try:
        for collector in collectors.values():
            collector.start()
        stack.start()
        for station in fleet:
            station.start()
        yield cluster, fleet, collectors, stack, hook
    finally:
        for station in fleet:
            station.stop()
        stack.stop()
        for collector in collectors.values():
            collector.kill()
        cluster.stop()
        hook.server.shutdown()


def test_kill_one_of_each_tier_loses_nothing_and_pages_once(
    rig: tuple[PlainNatsCluster, list[FaultStation], dict[str, CollectorProcess],
               PairOnly, Webhook],
) -> None:
    cluster, fleet, collectors, stack, hook = rig
    # Dealt over 2 sites (even indexes the first): the busy stations on the second site,
    # so whatever their toggling fires never joins the part alert's group (site, alertname).
    part_station, healthy, busy = fleet[0], [fleet[1], fleet[2], fleet[4]], [fleet[3], fleet[5]]
    names = [s.name for s in fleet]
    for collector in collectors.values():
        wait_for(lambda c=collector: c.all_in(names, "online"), 60, what="fleet online")
    wait_for(stack.survivors_scrape_all, 30, what="both Prometheus scraping both replicas")

    part_station.set_part(PART, plugged=False)
    alert = {"station": part_station.name, "component": PART}
    with EventPump(busy) as pump:
        fired_at = hook.wait("firing", "PantauComponentMissing", 60, **alert)

        killed_at = time.time()
        cluster.nodes[0].kill()  # every station's first node
        for collector in collectors.values():
            wait_for(moved(collector, fleet, killed_at), 60, what="stations on another node")
        print(f"\n  stations online through another node {time.time() - killed_at:.1f} s "
              "after the NATS node's kill -9")

        collectors["a"].kill()
        away_from = pump.toggles
        wait_for(lambda: pump.toggles >= away_from + 6, 30, what="events while a is away")
        collectors["a"].start()
        wait_for(stack.survivors_scrape_all, 30, what="replica a scraped again")

        wait_for(lambda: time.monotonic() > fired_at + PEER_TIMEOUT_S, PEER_TIMEOUT_S + 1,
                 interval=0.2, what="the Alertmanagers' peer timeout since the first notification")
        stack.service(PROMETHEUS[0]).kill()
        # Both Alertmanagers up for longer than their peer timeout (15 s) since it fired:
        # the cluster has de-duplicated the four copies it received into one notification.
        assert hook.count("firing", "PantauComponentMissing", **alert) == 1, (
            f"fired at {fired_at:.1f}: {hook.seen('firing', 'PantauComponentMissing', **alert)}")
        stack.service(ALERTMANAGERS[0]).kill()
        resumed = pump.toggles
        wait_for(lambda: pump.toggles >= resumed + 6, 30, what="events after every kill")

    part_station.set_part(PART, plugged=True)
    try:
        hook.wait("resolved", "PantauComponentMissing", 60, **alert)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{alert_views(stack, 'PantauComponentMissing')}") from None

    firing = hook.count("firing", "PantauComponentMissing", **alert)
    print(f"  part alert notifications: {firing} firing")
    assert 1 <= firing <= 2, hook.seen("firing", "PantauComponentMissing", **alert)
    for station in healthy:
        assert hook.names_for(station.name) == set(), f"{station.name} was healthy throughout"
    print(f"  the busy stations were notified of: {[hook.names_for(s.name) for s in busy]}")
    # b was never killed; a is complete once back, from its durable session.
    for name, report in (("b", settle(collectors["b"], fleet)),
                         ("a", history_complete(collectors["a"], fleet, 60))):
        print(f"  replica {name}: {report.line()}; its own count of events gone: "
              f"{gap_events(collectors[name])}")
        assert_exact(report)
