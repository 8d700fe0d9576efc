"""Outbox over a real queue file: every event leaves stamped with `oldest_pending` as the
queue holds it at send time, and the ack timer runs on the monotonic clock only."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest

from agent.config import QueueConfig
from agent.journal import EventJournal, JournaledEvent
from agent.mqtt.outbox import Outbox
from agent.mqtt.publisher import Publisher
from pantau import wire
from tests.agent.publisher.helpers import Watcher, agent_config, event, new_station, topic
from tests.support.mosquitto import MosquittoBroker, wait_for


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[EventJournal]:
    q = EventJournal(QueueConfig(path=tmp_path / "q.db"))
    yield q
    q.close()


class Wire:
    """A `send` that records what would go to the broker, decoded as the collector would."""

    def __init__(self) -> None:
        self.sent: list[wire.Event] = []

    def __call__(self, ev: JournaledEvent) -> bool:
        msg = wire.decode("event", ev.payload)
        assert isinstance(msg, wire.Event)
        self.sent.append(msg)
        return True

    def stamps(self) -> list[tuple[str, int, int | msgspec.UnsetType]]:
        return [(e.boot_id, e.seq, e.oldest_pending) for e in self.sent]


def outbox(queue: EventJournal, clock: Callable[[], float] = time.monotonic) -> Outbox:
    return Outbox(queue, clock, ack_timeout_s=30.0, max_payload_bytes=wire.MAX_PAYLOAD_BYTES)


def test_each_boot_is_stamped_with_its_own_oldest_queued_seq(queue: EventJournal) -> None:
    for boot, seq in [("old", 7), ("old", 8), ("new", 1), ("new", 2)]:
        queue.append(event(boot, seq))
    sent = Wire()
    assert outbox(queue).flush(sent) == 4
    assert sent.stamps() == [("old", 7, 7), ("old", 8, 7), ("new", 1, 1), ("new", 2, 1)]
    assert b"oldest_pending" not in queue.pending()[0].payload  # the disk copy is untouched


def test_a_resend_carries_what_the_queue_holds_then(queue: EventJournal) -> None:
    clock = Clock()
    box = outbox(queue, clock)
    for seq in (1, 2, 3):
        queue.append(event("b", seq))
    box.flush(Wire())
    box.on_ack("b", 1)
    queue.enforce_bounds()
    clock.now += 31.0  # no ack for 2 and 3 within the timeout: go back and send them again
    sent = Wire()
    box.flush(sent)
    assert sent.stamps() == [("b", 2, 2), ("b", 3, 2)]


def test_events_dropped_by_the_bounds_move_the_stamp_up(tmp_path: Path) -> None:
    size = len(wire.encode(event("b", 1)))
    q = EventJournal(QueueConfig(path=tmp_path / "q.db", max_bytes=2 * size))
    for seq in range(1, 6):
        q.append(event("b", seq))  # 1..3 dropped (and counted) by the byte bound
    sent = Wire()
    outbox(q).flush(sent)
    assert sent.stamps() == [("b", 4, 4), ("b", 5, 4)] and q.dropped_total == 3
    q.close()


@pytest.mark.parametrize(("waited_s", "resent"), [(29.0, False), (31.0, True)])
def test_the_ack_timer_follows_the_injected_monotonic_clock(
    queue: EventJournal, waited_s: float, resent: bool
) -> None:
    mono = Clock()
    box = outbox(queue, mono)
    queue.append(event("b", 1))
    box.flush(Wire())
    sent = Wire()
    mono.now += waited_s
    box.flush(sent)
    assert (len(sent.sent) == 1) is resent and box.resends == int(resent)


def test_publisher_resends_when_the_station_clock_is_set_back(
    mosquitto: MosquittoBroker, tmp_path: Path, publishers: Callable[..., Publisher],
    watchers: Callable[..., Watcher],
) -> None:
    station = new_station()
    watcher = watchers(mosquitto, [topic(station, "event")])
    wall = Clock(time.time())
    pub = publishers(agent_config(mosquitto, tmp_path / "q.db", station), boot_id="b1",
                     clock=wall, ack_timeout_s=0.3)
    wait_for(lambda: pub.connected, what="connected")
    pub.queue.append(event("b1", 1, station=station))
    pub.flush_events()
    wait_for(lambda: len(watcher.events(station)) >= 1, what="first send")
    wall.now -= 365 * 86400.0  # a wall-clock timer would now wait a year for its resend
    wait_for(lambda: len(watcher.events(station)) >= 2, what="a resend after the ack timeout")
    assert [e.oldest_pending for e in watcher.events(station)][:2] == [1, 1]
    assert pub.stats.event_resends >= 1


def test_after_a_discarded_event_is_passed_the_stamp_moves_above_it(queue: EventJournal) -> None:
    clock = Clock()
    box = Outbox(queue, clock, ack_timeout_s=30.0, max_payload_bytes=400)
    queue.append(event("b", 1))
    queue.append(msgspec.structs.replace(event("b", 2), detail="d" * 500))  # never sendable
    queue.append(event("b", 3))
    sent = Wire()
    box.flush(sent)
    assert sent.stamps() == [("b", 1, 1), ("b", 3, 1)] and queue.dropped_total == 1
    box.on_ack("b", 1)  # the collector's mark now waits at 1, below the hole at 2
    clock.now += 31.0
    sent = Wire()
    box.flush(sent)
    assert sent.stamps() == [("b", 3, 3)]  # lets the collector's mark step over 2
