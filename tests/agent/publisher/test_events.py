"""Events end to end: disk queue → broker → a test collector that acks (real Mosquitto)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from agent.journal import EventJournal
from agent.mqtt.publisher import Publisher
from tests.agent.publisher.helpers import Watcher, agent_config, event, new_station, topic
from tests.support.mosquitto import MosquittoBroker, wait_for


class AckingCollector:
    """Accepts each boot's events strictly in order (a gap waits for the resend), acks them."""

    def __init__(self, watcher: Watcher, station: str) -> None:
        self.watcher, self.station = watcher, station
        self.accepted: list[tuple[str, int]] = []
        self._seen = 0

    def pump(self) -> list[tuple[str, int]]:
        events = self.watcher.events(self.station)
        for ev in events[self._seen:]:
            last = max((s for b, s in self.accepted if b == ev.boot_id), default=None)
            if last is None or ev.seq == last + 1:
                self.accepted.append((ev.boot_id, ev.seq))
                self.watcher.ack(self.station, ev.boot_id, ev.seq)
        self._seen = len(events)
        return self.accepted


def test_events_are_sent_in_order_and_deleted_only_after_ack(
    mosquitto: MosquittoBroker, tmp_path: Path, publishers: Callable[..., Publisher],
    watchers: Callable[..., Watcher],
) -> None:
    station = new_station()
    watcher = watchers(mosquitto, [topic(station, "event")])
    pub = publishers(agent_config(mosquitto, tmp_path / "q.db", station), boot_id="b1")
    wait_for(lambda: pub.connected, what="connected")
    for seq in (1, 2, 3):
        pub.queue.append(event("b1", seq, station=station))
    pub.flush_events()

    wait_for(lambda: len(watcher.events(station)) == 3, what="3 events")
    assert [e.seq for e in watcher.events(station)] == [1, 2, 3]
    assert len(pub.queue) == 3  # delivered is not stored: still on disk until acked

    watcher.ack(station, "b1", 2)
    wait_for(lambda: len(pub.queue) == 1, what="ack applied")
    assert [e.seq for e in pub.queue.pending()] == [3] and pub.stats.acks == 1
    watcher.ack(station, "b1", 3)
    wait_for(lambda: len(pub.queue) == 0, what="second ack applied")


def test_unacked_events_are_sent_again_after_the_ack_timeout(
    mosquitto: MosquittoBroker, tmp_path: Path, publishers: Callable[..., Publisher],
    watchers: Callable[..., Watcher],
) -> None:
    station = new_station()
    watcher = watchers(mosquitto, [topic(station, "event")])
    pub = publishers(agent_config(mosquitto, tmp_path / "q.db", station), boot_id="b1",
                     ack_timeout_s=0.3)
    wait_for(lambda: pub.connected, what="connected")
    pub.queue.append(event("b1", 1, station=station))
    pub.queue.append(event("b1", 2, station=station))
    pub.flush_events()

    wait_for(lambda: len(watcher.events(station)) >= 4, what="a resend")
    assert [e.seq for e in watcher.events(station)][:4] == [1, 2, 1, 2]  # go-back-N, in order
    assert pub.stats.event_resends >= 1
    watcher.ack(station, "b1", 2)
    wait_for(lambda: len(pub.queue) == 0, what="acked")


def test_events_written_while_the_broker_is_down_arrive_after_it_returns(
    broker_factory: Callable[..., MosquittoBroker], tmp_path: Path,
    publishers: Callable[..., Publisher], watchers: Callable[..., Watcher],
) -> None:
    broker = broker_factory()
    station = new_station()
    pub = publishers(agent_config(broker, tmp_path / "q.db", station), boot_id="b1",
                     ack_timeout_s=0.5)
    wait_for(lambda: pub.connected, what="connected")
    broker.stop()
    wait_for(lambda: not pub.connected, what="disconnected")
    for seq in range(1, 6):
        pub.queue.append(event("b1", seq, station=station))
    assert pub.flush_events() == 0  # nothing handed to paho while offline

    broker.start()
    collector = AckingCollector(watchers(broker, [topic(station, "event")]), station)

    # Whether the collector subscribed before or after the replay, the ack timeout resends.
    wait_for(lambda: len(collector.pump()) == 5, timeout=15, what="all events accepted")
    assert collector.accepted == [("b1", s) for s in range(1, 6)]
    wait_for(lambda: len(pub.queue) == 0, what="queue drained by acks")


def test_a_new_agent_replays_the_previous_boots_events_first(
    mosquitto: MosquittoBroker, tmp_path: Path, publishers: Callable[..., Publisher],
    watchers: Callable[..., Watcher],
) -> None:
    station = new_station()
    cfg = agent_config(mosquitto, tmp_path / "q.db", station)
    old_queue = EventJournal(cfg.queue)  # the previous run never reached the broker
    for seq in (7, 8, 9):
        old_queue.append(event("old-boot", seq, station=station))
    old_queue.close()
    watcher = watchers(mosquitto, [topic(station, "event")])

    pub = publishers(cfg, boot_id="new-boot", start=False)
    pub.queue.append(event("new-boot", 1, station=station))
    pub.start()

    wait_for(lambda: len(watcher.events(station)) == 4, what="replay")
    assert [(e.boot_id, e.seq) for e in watcher.events(station)] == [
        ("old-boot", 7), ("old-boot", 8), ("old-boot", 9), ("new-boot", 1)]
    watcher.ack(station, "old-boot", 9)
    wait_for(lambda: len(pub.queue) == 1, what="old boot acked")


def test_oversize_event_is_dropped_not_sent(
    mosquitto: MosquittoBroker, tmp_path: Path, publishers: Callable[..., Publisher],
    watchers: Callable[..., Watcher],
) -> None:
    station = new_station()
    watcher = watchers(mosquitto, [topic(station, "event")])
    cfg = agent_config(mosquitto, tmp_path / "q.db", station, max_payload_bytes=400)
    pub = publishers(cfg, boot_id="b1", start=False)
    pub.queue.append(event("b1", 1, station=station))
    pub.queue.append(event("b1", 2, station=station).__class__(
        v=1, site="site-a", station=station, boot_id="b1", seq=2, ts=1.0, component="camera",
        from_="ok", to="failed", detail="d" * 1000))
    pub.queue.append(event("b1", 3, station=station))
    pub.start()

    wait_for(lambda: len(watcher.events(station)) == 2, what="the two small events")
    assert [e.seq for e in watcher.events(station)] == [1, 3]
    assert pub.stats.oversize_dropped == 1 and pub.queue.dropped_total == 1
