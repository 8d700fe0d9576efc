"""The broker drops messages: its per-client queue limit is reached while the collector is away.

Mosquitto holds QoS 1 messages for the collector's persistent session only up
to `max_queued_messages` (5 here); beyond that it drops them and counts them in
$SYS/broker/publish/messages/dropped. Promise: the loss is detected and counted
(the agents see no ack within their ack timeout, count a resend and send every
unacked event again, oldest first) and recovered: every committed event is
stored exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.agent.service.mqtt_watch import Watch
from tests.faults.checks import assert_exact, assert_online, settle
from tests.faults.conftest import Rig
from tests.support.fleet_harness import EventPump
from tests.support.mosquitto import wait_for

pytestmark = pytest.mark.broker
DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"
ACK_TIMEOUT_S = 30.0  # agent.mqtt.publisher.Publisher's default


def broker_dropped(watch: Watch) -> int:
    values = [int(m.payload) for m in watch.messages if m.topic == DROPPED_TOPIC]
    return max(values, default=0)


@pytest.mark.slow
@pytest.mark.timeout(240)  # up to two ack-timeout rounds on a loaded CI box
@pytest.mark.parametrize("live_after", [
    pytest.param(False, id="quiet-recovery"),
    # Stations keep making events while the agents wait for their ack timeout: a live
    # event arrives before the dropped ones, and the collector (which starts a boot it
    # has never seen at mark 0) must not ack past them (was bug 2, docs/reliability.md).
    pytest.param(True, id="live-events-during-recovery"),
])
def test_broker_queue_limit_drops_are_replayed(
    rig_factory: Callable[..., Rig], live_after: bool
) -> None:
    rig = rig_factory(3, extra_config="max_queued_messages 5\nsys_interval 1")
    watch = Watch(rig.broker, [DROPPED_TOPIC])
    for station in rig.stations:
        station.start()
    wait_for(lambda: rig.collector.all_in(rig.names, "online"), 15, what="fleet online")
    rig.collector.stop()  # its session (and a 5-message queue) stays at the broker
    with EventPump(rig.stations) as pump:
        wait_for(lambda: pump.toggles >= 9, 30, what="45 events while the collector is away")
    wait_for(lambda: broker_dropped(watch) > 0, 10, what="the broker counting drops")
    dropped = broker_dropped(watch)
    restarted = time.monotonic()
    rig.collector.start()
    if live_after:  # stations keep working while the agents wait for their ack timeout
        with EventPump(rig.stations) as pump:
            wait_for(lambda: pump.toggles >= 3, 30, what="live events after the restart")
    report = settle(rig.collector, rig.stations, timeout=2 * ACK_TIMEOUT_S + 15, tap=rig.tap)
    recovered_s = time.monotonic() - restarted
    resends = sum(s.service.publisher.stats.event_resends  # type: ignore[attr-defined]
                  for s in rig.stations if s.service is not None)
    dup_line = [ln for ln in rig.collector.metrics().splitlines() if 'reason="duplicate"' in ln]
    print(f"  broker dropped {dropped} messages; agents counted {resends} resends; "
          f"recovered {recovered_s:.1f} s after the collector came back; {dup_line}")
    assert resends > 0, "no agent noticed the missing acks"
    assert_exact(report)
    assert_online(rig.collector, rig.stations)
