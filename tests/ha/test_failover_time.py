"""`make test-ha`: lightweight stations fail over to another NATS node, all of them.

The method of tests/bench/failover.py (real agent `Publisher`s with the shipped
backoff, connections stable before the kill -9 of their node, time to each new
birth on a surviving node) over fewer stations, to fit the suite's budget. The
test asserts every station came back; the times are printed, not asserted (the
p95 goal is the benchmark's: `python -m tests.bench.failover --stations 1000`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pantau.failover import FAILOVER_SPREAD_S
from tests.bench.failover import failover_times, pick
from tests.support.nats_plain import PlainNatsCluster

pytestmark = [pytest.mark.ha, pytest.mark.broker, pytest.mark.slow]

STATIONS = 100
# A connection counts as stable after max(reconnect_max_s, keepalive_s) = 60 s as
# shipped; only a stable one's loss draws its first retry from the failover window.
SETTLE_S = 65.0


def test_every_station_fails_over_to_another_nats_node(tmp_path: Path) -> None:
    cluster = PlainNatsCluster(tmp_path / "nats").start()
    try:
        times = failover_times(cluster.urls, cluster.nodes[0].kill,
                               cluster.nodes[-1].mqtt_port, STATIONS, SETTLE_S, 60.0, tmp_path)
    finally:
        cluster.stop()
    assert times, "no station came back"
    print(f"\n  failover of {len(times)} of {STATIONS} stations (first retry window "
          f"{FAILOVER_SPREAD_S:g} s): p50 {pick(times, 0.5):.1f} s, "
          f"p95 {pick(times, 0.95):.1f} s, max {times[-1]:.1f} s")
    assert len(times) == STATIONS
