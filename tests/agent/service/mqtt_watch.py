"""A plain paho client playing the collector's ears: records and decodes what arrives."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from pantau import wire
from tests.support.mosquitto import MosquittoBroker, wait_for


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool


class Watch:
    def __init__(self, broker: MosquittoBroker, filters: list[str] | None = None) -> None:
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self._filters = filters or ["pantau/v1/#"]
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"w-{uuid.uuid4().hex}")
        self.client.on_connect = lambda c, *_: c.subscribe([(f, 1) for f in self._filters])
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port, keepalive=5)
        self.client.loop_start()
        wait_for(self._subscribed.is_set, what="watcher subscribed")

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Message(msg.topic, bytes(msg.payload), bool(msg.retain)))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()

    def decoded(self, site: str, station: str, kind: wire.MessageKind) -> list[object]:
        name = wire.topic_for(site, station, kind)
        with self._lock:
            payloads = [m.payload for m in self.messages if m.topic == name]
        return [wire.decode(kind, p) for p in payloads]

    def heartbeats(self, site: str, station: str) -> list[wire.Heartbeat]:
        return [h for h in self.decoded(site, station, "heartbeat")
                if isinstance(h, wire.Heartbeat)]

    def events(self, site: str, station: str) -> list[wire.Event]:
        return [e for e in self.decoded(site, station, "event") if isinstance(e, wire.Event)]

    def statuses(self, site: str, station: str) -> list[wire.Status]:
        return [s for s in self.decoded(site, station, "status") if isinstance(s, wire.Status)]

    def publish(self, site: str, station: str, kind: wire.MessageKind, payload: bytes) -> None:
        info = self.client.publish(wire.topic_for(site, station, kind), payload, qos=1)
        info.wait_for_publish(5)


def component(hb: wire.Heartbeat, cid: str) -> wire.Component:
    return next(c for c in hb.components if c.id == cid)


def retained(broker: MosquittoBroker, site: str, station: str,
             kind: wire.MessageKind) -> object:
    """The retained message of a topic, as a fresh subscriber gets it."""
    watch = Watch(broker, [wire.topic_for(site, station, kind)])
    try:
        wait_for(lambda: watch.decoded(site, station, kind), what=f"retained {kind}")
        return watch.decoded(site, station, kind)[0]
    finally:
        watch.close()
