"""Faults on the station PC itself: its disk fills up, its clock jumps.

Disk full: the queue lives on a 1 MiB tmpfs that the test fills. Promise: the
agent keeps publishing heartbeats, drops the oldest events to make room and
counts the drops; what reaches the store is exactly what was committed minus
the dropped, oldest first.

Clock jumps: the agent's wall clock jumps a month ahead, then a year behind.
Promise: the station stays online throughout (staleness is judged on the
collector's receipt time), the offset is reported in /api and /metrics, and
no event is lost or stored twice (events are keyed by seq, not by time).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pantau import wire
from tests.agent.service.mqtt_watch import Watch
from tests.faults.checks import assert_exact, assert_online, settle
from tests.faults.conftest import Rig, fill_disk
from tests.support.collector_process import StateSampler, sample_until
from tests.support.fleet_harness import EventPump
from tests.support.mosquitto import wait_for

pytestmark = pytest.mark.broker
ROOM_LEFT = 256 * 1024  # bytes left free on the tmpfs once the queue exists


def test_disk_full_drops_oldest_counts_and_keeps_heartbeats(
    rig_factory: Callable[..., Rig], small_disk: Path
) -> None:
    queue = small_disk / "queue.sqlite3"
    rig = rig_factory(1, proxy=True, start_collector=False, queue_dirs={"medan-amplas-01": queue})
    assert rig.proxy is not None
    st = rig.stations[0].start()
    assert st.service is not None
    filled = fill_disk(small_disk, ROOM_LEFT)
    watch = Watch(rig.broker, [wire.topic_for(st.site, st.name, "heartbeat")])
    # No collector yet: nothing is acked, so the queue grows until the disk is full.
    with EventPump([st], pause_s=0.0):
        wait_for(lambda: st.service.queue.dropped_total > 0, 90, what="the agent drops events")
        beats = len(watch.heartbeats(st.site, st.name))
        wait_for(lambda: len(watch.heartbeats(st.site, st.name)) >= beats + 3, 20,
                 what="heartbeats while the disk is full")
    wait_for(lambda: st.service is not None and len(st.service.queue) > 0, 5, what="queue")
    dropped = st.service.queue.dropped_total
    # Space comes back (the operator cleans up); a fresh collector (no broker session
    # yet, so nothing sent before reaches it), then a link reset so the agent replays.
    (small_disk / "filler").unlink()
    rig.collector.start()
    rig.proxy.reset_all()
    committed = st.expected()
    survivors = {k for k in committed if k[2] > dropped}  # the oldest `dropped` went
    report = settle(rig.collector, [st], timeout=20, expected=survivors, tap=rig.tap)
    stored = rig.collector.stored_events()
    print(f"  disk full: {filled} bytes of filler; {len(committed)} events committed, "
          f"{dropped} dropped (counted), {len(stored)} stored; heartbeats kept coming")
    assert dropped > 0
    assert set(stored) <= committed and len(stored) == len(committed) - dropped
    assert_exact(report)
    assert_online(rig.collector, [st])


def offset_shown(rig: Rig, name: str, want: float) -> bool:
    view = rig.collector.stations().get(name)
    return view is not None and view["clock_offset_s"] is not None and \
        abs(view["clock_offset_s"] - want) < 10


def metric_offset(metrics: str, station: str) -> float | None:
    label = f'station="{station}"'
    for line in metrics.splitlines():
        if line.startswith("pantau_host_clock_offset_seconds{") and label in line:
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.mark.parametrize("jump_s", [30 * 86400.0, -365 * 86400.0],
                         ids=["month-ahead", "year-behind"])
def test_clock_jump_keeps_state_and_reports_offset(
    rig_factory: Callable[..., Rig], jump_s: float
) -> None:
    rig = rig_factory(2)
    for station in rig.stations:
        station.start()
    wait_for(lambda: rig.collector.all_in(rig.names, "online"), 15, what="fleet online")
    jumper = rig.stations[0]
    sampler = StateSampler()
    with EventPump(rig.stations) as pump:
        wait_for(lambda: pump.toggles >= 4, 20, what="events before the jump")
        jumper.clock.offset_s = jump_s
        took = sample_until(sampler, rig.collector, lambda: offset_shown(rig, jumper.name, jump_s),
                            30, "the offset shown in /api")
        shown_metric = metric_offset(rig.collector.metrics(), jumper.name)
        jumper.clock.offset_s = 0.0
        sample_until(sampler, rig.collector, lambda: offset_shown(rig, jumper.name, 0.0),
                     30, "the offset back to 0 after the clock is fixed")
    report = settle(rig.collector, rig.stations, tap=rig.tap)
    assert_online(rig.collector, rig.stations)
    print(f"  clock {jump_s:+.0f} s: offset in /api after {took:.1f} s, /metrics "
          f"{shown_metric}; states seen {sampler.seen}")
    assert sampler.shown("stale", "lost", "offline") == {}
    assert shown_metric is not None and abs(shown_metric - jump_s) < 10
    assert_exact(report)
