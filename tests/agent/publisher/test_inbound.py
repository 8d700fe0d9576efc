"""Commands, garbage on our topics, and the heartbeat payload cap (real Mosquitto)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.mqtt.publisher import Publisher
from pantau import wire
from tests.agent.publisher.helpers import SITE, Watcher, agent_config, new_station, topic
from tests.support.mosquitto import MosquittoBroker, wait_for


def heartbeat(station: str, components: int = 0) -> wire.Heartbeat:
    parts = [wire.Component(id=f"c{i}", kind="usb", required=True, status="ok", since=1.7e9,
                                detail="x" * 200) for i in range(components)]
    return wire.Heartbeat(v=1, site=SITE, station=station, seq=1, boot_id="b1", ts=1.7e9,
                              interval_s=15.0, agent=wire.AgentInfo(version="0.1.0",
                                                                        uptime_s=1.0),
                              components=parts, checks=[], unexpected=[])


def test_report_command_calls_on_report(
    mosquitto: MosquittoBroker, tmp_path: Path, publishers: Callable[..., Publisher],
    watchers: Callable[..., Watcher],
) -> None:
    station = new_station()
    asked = threading.Event()
    pub = publishers(agent_config(mosquitto, tmp_path / "q.db", station), on_report=asked.set)
    wait_for(lambda: pub.connected, what="connected")
    watchers(mosquitto, []).publish(topic(station, "command"), b'{"cmd":"report"}')
    wait_for(asked.is_set, what="on_report called")
    assert pub.stats.commands == 1 and pub.stats.bad_messages == 0


@pytest.mark.parametrize(("kind", "payload"), [
    ("command", b"\xff\xfe not json"),
    ("command", b'{"cmd":"reboot"}'),  # well-formed but not allowed: ignored, counted
    ("command", b"[]"),
    ("ack", b"{}"),
    ("ack", b'{"boot_id":"b1","seq":-4}'),
    ("ack", b"x" * 5000),  # over the (test) payload cap
])
def test_garbage_is_counted_and_the_agent_keeps_working(
    mosquitto: MosquittoBroker, tmp_path: Path, publishers: Callable[..., Publisher],
    watchers: Callable[..., Watcher], kind: wire.MessageKind, payload: bytes,
) -> None:
    station = new_station()
    asked = threading.Event()
    cfg = agent_config(mosquitto, tmp_path / "q.db", station, max_payload_bytes=4096)
    sender = watchers(mosquitto, [topic(station, "status")])
    pub = publishers(cfg, on_report=asked.set)
    # The agent subscribes before its birth: once the birth is seen, garbage reaches it.
    wait_for(lambda: sender.on(topic(station, "status")), what="birth")

    sender.publish(topic(station, kind), payload)
    wait_for(lambda: pub.stats.bad_messages == 1, what="bad message counted")

    sender.publish(topic(station, "command"), b'{"cmd":"report"}')  # the thread still runs
    wait_for(asked.is_set, what="report after garbage")
    assert pub.connected and pub.healthy() and pub.stats.bad_messages == 1


def test_oversize_heartbeat_is_refused_and_counted(
    mosquitto: MosquittoBroker, tmp_path: Path, publishers: Callable[..., Publisher],
    watchers: Callable[..., Watcher],
) -> None:
    station = new_station()
    watcher = watchers(mosquitto, [topic(station, "heartbeat")])
    cfg = agent_config(mosquitto, tmp_path / "q.db", station, max_payload_bytes=2048)
    pub = publishers(cfg)
    wait_for(lambda: pub.connected, what="connected")

    assert pub.publish_heartbeat(heartbeat(station, components=20)) is False
    assert pub.stats.oversize_dropped == 1
    assert pub.publish_heartbeat(heartbeat(station)) is True

    got = wait_for(lambda: watcher.on(topic(station, "heartbeat")), what="small heartbeat")
    assert len(got) == 1 and len(got[0].payload) < 2048
    assert pub.stats.heartbeats_sent == 1


def test_heartbeat_while_offline_is_not_queued(
    tmp_path: Path, broker_factory: Callable[..., MosquittoBroker],
    publishers: Callable[..., Publisher], watchers: Callable[..., Watcher],
) -> None:
    broker = broker_factory()
    station = new_station()
    pub = publishers(agent_config(broker, tmp_path / "q.db", station), start=False)
    assert pub.publish_heartbeat(heartbeat(station)) is False  # never connected

    pub.start()
    watcher = watchers(broker, [topic(station, "heartbeat"), topic(station, "status")])
    wait_for(lambda: pub.connected and watcher.statuses(station), what="connected")
    watcher.publish("sentinel", b"x")  # anything queued would have arrived with the birth
    assert watcher.on(topic(station, "heartbeat")) == []
    assert pub.stats.heartbeats_sent == 0
