"""Test-side helpers: configs, events, and a plain paho client playing the collector."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from msgspec import structs
from paho.mqtt.enums import CallbackAPIVersion

from agent.config import AgentConfig, QueueConfig
from pantau import wire
from pantau.broker_config import BrokerConfig
from tests.support.mosquitto import MosquittoBroker, wait_for

SITE = "site-a"


def new_station() -> str:
    return f"st-{uuid.uuid4().hex[:10]}"


def agent_config(broker: MosquittoBroker, queue_path: Path, station: str,
                 **overrides: object) -> AgentConfig:
    broker_cfg = BrokerConfig(url=broker.url, host="127.0.0.1", port=broker.port, keepalive_s=2,
                              connect_timeout_s=2.0, reconnect_min_s=0.05, reconnect_max_s=0.5)
    cfg = AgentConfig(station=station, site=SITE, broker=broker_cfg,
                      queue=QueueConfig(path=queue_path))
    return structs.replace(cfg, **overrides)


def event(boot_id: str, seq: int, station: str = "st-x", ts: float = 1.0e9) -> wire.Event:
    return wire.Event(v=1, site=SITE, station=station, boot_id=boot_id, seq=seq, ts=ts,
                          component="fingerprint", from_="ok", to="missing", detail=f"n{seq}")


def topic(station: str, kind: wire.MessageKind) -> str:
    return wire.topic_for(SITE, station, kind)


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool


class Watcher:
    """A plain paho client that records what arrives on `filters` (and can publish)."""

    def __init__(self, broker: MosquittoBroker, filters: list[str]) -> None:
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._filters = filters
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"w-{uuid.uuid4().hex}")
        self.client.reconnect_delay_set(1, 2)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port, keepalive=5)
        self.client.loop_start()
        wait_for(self._subscribed.is_set, what="watcher subscribed")

    def _on_connect(self, client: mqtt.Client, *_: object) -> None:
        if self._filters:
            client.subscribe([(f, 1) for f in self._filters])
        else:  # a publish-only client is ready once connected
            self._subscribed.set()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain)))

    def on(self, topic_name: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic_name]

    def statuses(self, station: str) -> list[wire.Status]:
        decoded = [wire.decode("status", m.payload) for m in self.on(topic(station, "status"))]
        return [s for s in decoded if isinstance(s, wire.Status)]

    def events(self, station: str) -> list[wire.Event]:
        decoded = [wire.decode("event", m.payload) for m in self.on(topic(station, "event"))]
        return [e for e in decoded if isinstance(e, wire.Event)]

    def publish(self, topic_name: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic_name, payload, qos=1, retain=retain).wait_for_publish(5)

    def ack(self, station: str, boot_id: str, seq: int) -> None:
        self.publish(topic(station, "ack"), wire.encode(wire.Ack(boot_id=boot_id, seq=seq)))

    def close(self) -> None:
        self.client.disconnect()  # first: wakes paho's select so loop_stop returns at once
        self.client.loop_stop()


def retained_status(broker: MosquittoBroker, station: str) -> wire.Status:
    """What a subscriber arriving now is told (the retained status)."""
    late = Watcher(broker, [topic(station, "status")])
    try:
        wait_for(lambda: late.statuses(station), what="retained status")
        return late.statuses(station)[-1]
    finally:
        late.close()
