"""The broker restarts, crashes or hangs while stations keep making events.

Promise: every event the stations committed is stored and applied exactly
once, and every station ends online with its parts shown as they are.
Correctness must not depend on broker persistence, so SIGKILL is run with it
off and on. "On" is the production broker (deploy/mosquitto: TLS, password
accounts, the shipped ACL) saving every second (`autosave_interval 1`, the
shipped 60 s would save nothing in a test this short), killed only after a
save has written the queued state: the restarted broker then replays the
collector's saved session on top of the agents' own replays.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.deploy.tls_broker import TlsBroker
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


def sigkill_after_a_save(broker: TlsBroker) -> None:
    saved = broker.workdir / "mosquitto.db"
    began = time.time()
    wait_for(lambda: saved.exists() and saved.stat().st_mtime > began, 10,
             what="an autosave of the broker's state")
    sigkill(broker)


def frozen(broker: MosquittoBroker) -> None:
    # Longer than 1.5 x keepalive: both ends give up on their connections
    # while the broker process still holds the sockets.
    broker.freeze()
    time.sleep(2 * KEEPALIVE_S)  # the fault itself lasts this long; not synchronisation
    broker.thaw()


CASES = [
    pytest.param(graceful, {}, id="graceful-restart"),
    pytest.param(sigkill, {}, id="sigkill-no-persistence"),
    pytest.param(sigkill_after_a_save, {"autosave_s": 1},
                 id="sigkill-persistence-production-broker"),
    pytest.param(frozen, {}, id="sigstop-longer-than-keepalive"),
]


@pytest.mark.parametrize(("fault", "broker"), CASES)
def test_broker_fault_loses_no_event(
    rig_factory: Callable[..., Rig], fault: Callable[[Any], None], broker: dict[str, Any]
) -> None:
    rig = rig_factory(3, **broker)
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
    report = settle(rig.collector, rig.stations, tap=rig.tap)
    print(f"  fault {fault_s:.1f} s, agents reconnected {back:.1f} s after it began")
    assert_exact(report)
