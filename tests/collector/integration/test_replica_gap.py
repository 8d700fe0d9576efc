"""A replica away for longer than its broker queue holds: the hole in its history is counted.

Real Mosquitto (with a small `max_queued_messages`, the shipped file's limit
scaled down), two real collectors and one simulated kit. Replica b is stopped
(its persistent session stays at the broker) while the kit's parts are
unplugged and plugged back; replica a acks every event, so the agent deletes
them. When b comes back it gets what its queue held; the kit's next event says
(`oldest_pending`) that the agent no longer holds the rest. With the queue
overflowed, b counts the gap, and what it stored plus what it counts as lost is
every event the kit made; with a queue that held everything, there is no gap.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.sim.fleet import registry_toml
from tests.support.collector_process import CollectorProcess
from tests.support.fleet_harness import FaultStation
from tests.support.mosquitto import MosquittoBroker, wait_for

pytestmark = pytest.mark.broker
SITE, NAME = "medan-baru", "medan-baru-01"
TOGGLES_AWAY = 4  # 5 events each while b is away


def counter(collector: CollectorProcess, name: str) -> int:
    found = re.search(rf"^{name} (\S+)$", collector.metrics(), re.MULTILINE)
    return int(float(found.group(1))) if found else -1


def events_of(collector: CollectorProcess, boot: str) -> set[int]:
    return {seq for station, b, seq in collector.stored_events() if (station, b) == (NAME, boot)}


@pytest.mark.parametrize(("queue_limit", "overflows"), [(8, True), (1000, False)])
def test_a_replica_back_from_beyond_its_queue_counts_the_gap(
    broker_factory: Callable[..., MosquittoBroker], tmp_path: Path, queue_limit: int,
    overflows: bool,
) -> None:
    broker = broker_factory(extra_config=f"max_queued_messages {queue_limit}")
    a, b = (CollectorProcess(broker.url, tmp_path / r, registry_toml([(SITE, NAME)]),
                             client_id=f"pantau-collector-{r}") for r in ("a", "b"))
    station = FaultStation(SITE, NAME, broker.url, tmp_path / NAME)
    a.start()
    b.start()
    station.start()
    try:
        wait_for(lambda: a.all_in([NAME], "online") and b.all_in([NAME], "online"), 15,
                 what="the kit online on both replicas")
        b.stop()
        for _ in range(TOGGLES_AWAY):
            station.toggle()
        wait_for(lambda: station.queued == 0, 15, what="every event acked (by a)")
        b.start()
        station.toggle()  # an event that says what the agent still holds
        made = set(range(1, station.committed[station.boot_id] + 1))
        wait_for(lambda: events_of(a, station.boot_id) == made, 15, what="a has every event")
        last = max(made)
        wait_for(lambda: last in events_of(b, station.boot_id), 15, what="b has the last one")
        stored = events_of(b, station.boot_id)
        gaps = counter(b, "pantau_collector_history_gaps_total")
        lost = counter(b, "pantau_collector_history_gap_events_total")
        assert (gaps >= 1) is overflows and (stored == made) is not overflows
        assert len(stored) + lost == len(made), (sorted(stored), lost)
        assert counter(a, "pantau_collector_history_gaps_total") == 0
    finally:
        station.stop()
        a.kill()
        b.kill()
