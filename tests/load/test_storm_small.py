"""A small reconnect storm in CI: 300 stations, a broker restart, all back at the collector.

The full-size run with histogram is `python -m tests.load.storm` (figures in
docs/reliability.md). Here only what the jitter function guarantees is
asserted — every delay inside its window, the first retry after a stable
connection inside the attempt-0 window — plus that every station is back
online at the real collector. No timing assertions.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest

from pantau.backoff import RECONNECT_SPREAD_S, Backoff
from pantau.broker_config import BrokerConfig
from tests.load.central import Central
from tests.load.lite_fleet import FleetSettings, make_fleet, start_fleet, stop_fleet
from tests.load.storm import restart_and_measure, until

pytestmark = pytest.mark.broker

MIN_S, MAX_S = 0.5, 2.0


async def test_300_stations_come_back_after_a_broker_restart(tmp_path: Path) -> None:
    central = await asyncio.to_thread(Central(tmp_path).start)
    settings = FleetSettings("127.0.0.1", central.broker.port, MIN_S, MAX_S, keepalive_s=0.0,
                             heartbeat_s=30.0)
    fleet, stop = make_fleet(300, settings, seed=7), asyncio.Event()
    tasks = await start_fleet(fleet, stop, ramp_s=1.0)
    try:
        names = {st.station for st in fleet}
        await until(lambda: names <= central.fresh_online(0.0), 60, "all online", every=0.2)
        # The agent resets its backoff only after a connection stable for MAX_S.
        await until(lambda: all(time.monotonic() - st.connects[-1] >= MAX_S for st in fleet),
                    30, "connections stable", every=0.2)
        _, _ = await restart_and_measure(central, fleet, down_s=0.0, timeout=60)
    finally:
        await stop_fleet(fleet, stop, tasks)
        await asyncio.to_thread(central.stop)
    delays = [d for st in fleet for d in st.delays]
    assert delays and all(0.0 <= d <= MAX_S for d in delays)
    assert all(st.delays[0] <= MAX_S for st in fleet)  # reset: the spread, capped at MAX_S
    assert all(len(st.connects) >= 2 for st in fleet)


@pytest.mark.parametrize(("min_s", "max_s"), [(1.0, 60.0), (30.0, 120.0)])
def test_every_delay_is_inside_its_window(min_s: float, max_s: float) -> None:
    backoff = Backoff(min_s, max_s, random.Random(3))
    for attempt in range(12):
        assert 0.0 <= backoff.next_delay() <= min(max_s, min_s * 2**attempt)
    backoff.reset()
    assert 0.0 <= backoff.next_delay() <= max(min(RECONNECT_SPREAD_S, max_s), min_s)
    for attempt in range(1, 12):
        assert 0.0 <= backoff.next_delay() <= min(max_s, min_s * 2**attempt)


def test_default_first_reconnects_spread_over_30s() -> None:
    config = BrokerConfig()
    first = []
    for n in range(5000):
        backoff = Backoff(config.reconnect_min_s, config.reconnect_max_s, random.Random(n))
        backoff.reset()  # a stable connection was lost (the broker restarted)
        first.append(backoff.next_delay())
    assert max(first) - min(first) >= 30.0
