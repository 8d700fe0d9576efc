"""A subscriber beside the collector: how many times each event reached the broker's subscribers.

It subscribes to every station's `event` topic at QoS 1 with a persistent
session, as the collector does, on the same broker, so it is handed each
event as often as the broker hands it to the collector's subscription:
the first send, every replay after a reconnect or an ack timeout, and what a
restarted broker replays from its saved sessions. What the collector then
applied is judged from the collector itself (tests/faults/checks.py); this
counts per `(station, boot_id, seq)` what reached it.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.mosquitto import wait_for

EventKey = tuple[str, str, int]
TAP_USER = "pantau-event-tap"


class EventTap:
    def __init__(self, port: int, ca: Path | None = None, password: str | None = None) -> None:
        self.counts: Counter[EventKey] = Counter()
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.paho = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=TAP_USER,
                                clean_session=False, protocol=mqtt.MQTTv311)
        if ca is not None:
            self.paho.tls_set(ca_certs=str(ca))
            self.paho.username_pw_set(TAP_USER, password)
        self.paho.on_connect = self._on_connect
        self.paho.on_subscribe = lambda *_: self._subscribed.set()
        self.paho.on_message = self._on_message
        self.paho.reconnect_delay_set(0.1, 1)
        self.paho.connect_async("127.0.0.1", port, keepalive=5)
        self.paho.loop_start()
        wait_for(self._subscribed.is_set, 10, what="the event tap subscribed")

    def _on_connect(self, client: mqtt.Client, *_: object) -> None:
        client.subscribe("pantau/v1/+/+/event", qos=1)

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            doc = json.loads(msg.payload)
            key = (str(doc["station"]), str(doc["boot_id"]), int(doc["seq"]))
        except (ValueError, KeyError, TypeError):
            return
        with self._lock:
            self.counts[key] += 1

    def line(self) -> str:
        with self._lock:
            counts = list(self.counts.values())
        repeated = sum(1 for c in counts if c > 1)
        return (f"a subscriber beside it was handed {sum(counts)} deliveries of {len(counts)} "
                f"events ({repeated} more than once, at most {max(counts, default=0)} times)")

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()
