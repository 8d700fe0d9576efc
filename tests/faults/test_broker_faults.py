"""The broker restarts, crashes or hangs while stations keep making events.

Promise: every event the stations committed is stored exactly once, and every
station ends online with its parts shown as they are. Correctness must not
depend on broker persistence, so SIGKILL is run with it off and on.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.faults.checks import assert_exact, assert_online, settle
from tests.faults.conftest import Rig
from tests.support.fleet_harness import KEEPALIVE_S, EventPump
from tests.support.mosquitto import MosquittoBroker, wait_for

pytestmark = pytest.mark.broker


def graceful(broker: MosquittoBroker) -> None:
    broker.stop()
    broker.start()


def sigkill(broker: MosquittoBroker) -> None:
    broker.kill()
    broker.start()


def frozen(broker: MosquittoBroker) -> None:
    # Longer than 1.5 x keepalive: both ends give up on their connections
    # while the broker process still holds the sockets.
    broker.freeze()
    time.sleep(2 * KEEPALIVE_S)  # the fault itself lasts this long; not synchronisation
    broker.thaw()


CASES = [
    pytest.param(graceful, False, id="graceful-restart"),
    pytest.param(sigkill, False, id="sigkill-no-persistence"),
    pytest.param(sigkill, True, id="sigkill-persistence"),
    pytest.param(frozen, False, id="sigstop-longer-than-keepalive"),
]


@pytest.mark.parametrize(("fault", "persistence"), CASES)
def test_broker_fault_loses_no_event(
    rig_factory: Callable[..., Rig], fault: Callable[[MosquittoBroker], None], persistence: bool
) -> None:
    rig = rig_factory(3, persistence=persistence)
    for station in rig.stations:
        station.start()
    wait_for(lambda: rig.collector.all_in(rig.names, "online"), 15, what="fleet online")
    with EventPump(rig.stations) as pump:
        wait_for(lambda: pump.toggles >= 6, 20, what="events flowing before the fault")
        began = time.monotonic()
        fault(rig.broker)
        fault_s = time.monotonic() - began
        wait_for(lambda: all(s.connected for s in rig.stations), 30, what="agents reconnected")
        back = time.monotonic() - began
        at_heal = pump.toggles
        wait_for(lambda: pump.toggles >= at_heal + 6, 20, what="events flowing after the fault")
    assert_online(rig.collector, rig.stations)
    report = settle(rig.collector, rig.stations)
    print(f"  fault {fault_s:.1f} s, agents reconnected {back:.1f} s after it began")
    assert_exact(report)
