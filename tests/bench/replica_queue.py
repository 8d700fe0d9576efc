"""How long a collector replica may be away before its Mosquitto queue overflows.

    .venv/bin/python -m tests.bench.replica_queue [--send 120000]

Method. A real Mosquitto with the shipped queue settings (`max_queued_messages`,
`max_queued_bytes`, read from deploy/mosquitto/mosquitto.conf). A subscriber
opens the collector's session (clean_session false; status and events at QoS 1,
heartbeats at QoS 0, as collector/mqtt/session.py subscribes) and leaves. Then
`--send` events (real wire payloads, `oldest_pending` set, ~220 bytes) and as
many heartbeats are published for it; it comes back and counts what it gets.
Printed: the events the queue held (the measured capacity), the heartbeats
(not queued at all), and from the capacity the time a replica may be away for
some fleet sizes and event rates (the rate is an input: queued messages per
station per hour, i.e. events plus status changes; heartbeats do not count).
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from pantau import wire
from tests.support.mosquitto import MosquittoBroker, wait_for

CONF = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "mosquitto.conf"
FLEETS = (1_000, 10_000, 30_000)
MARKER = "pantau/v1/bench/end/marker"
RATES = (2, 12, 60)  # queued messages per station per hour: quiet, busy, a part flapping


def shipped_limits() -> str:
    text = CONF.read_text()
    return "\n".join(re.findall(r"^max_queued_\w+ \d+$", text, re.MULTILINE))


def client(port: int, client_id: str, clean: bool) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean,
                    protocol=mqtt.MQTTv311)
    c.max_inflight_messages_set(1000)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def payload(seq: int) -> bytes:
    ev = wire.Event(v=1, site="medan-baru", station="medan-baru-01", boot_id="b" * 32, seq=seq,
                    ts=1_782_900_000.0, component="fingerprint", from_="ok", to="missing",
                    detail="", oldest_pending=seq)
    return wire.encode(ev)


def measure(send: int) -> tuple[int, int, int]:
    """(events held, heartbeats held, bytes of one event)."""
    with tempfile.TemporaryDirectory() as tmp:
        broker = MosquittoBroker(Path(tmp), extra_config=shipped_limits()).start()
        try:
            got: dict[str, int] = {"event": 0, "heartbeat": 0, "marker": 0}
            sub = client(broker.port, "pantau-collector-b", clean=False)
            subacks: list[object] = []
            sub.on_subscribe = lambda *args: subacks.append(args)
            sub.subscribe([("pantau/v1/+/+/event", 1), ("pantau/v1/+/+/heartbeat", 0),
                           (MARKER, 1)])
            wait_for(lambda: subacks, 10, what="SUBACK")
            sub.disconnect()
            sub.loop_stop()
            pub = client(broker.port, "bench-station", clean=True)
            for seq in range(1, send + 1):
                info = pub.publish("pantau/v1/medan-baru/medan-baru-01/event", payload(seq),
                                   qos=1)
                pub.publish("pantau/v1/medan-baru/medan-baru-01/heartbeat", b"{}", qos=0)
                if seq % 500 == 0 or seq == send:  # paho's own queue stays small
                    info.wait_for_publish(60)
            back = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="pantau-collector-b",
                               clean_session=False, protocol=mqtt.MQTTv311)
            back.on_message = lambda _c, _u, m: got.__setitem__(
                m.topic.rsplit("/", 1)[1], got[m.topic.rsplit("/", 1)[1]] + 1)

            def marker(*_: object) -> None:
                pub.publish(MARKER, b"end", qos=1)

            back.on_connect = marker
            back.connect("127.0.0.1", broker.port)
            back.loop_start()
            # The queue is delivered first, then the marker sent after the reconnect.
            wait_for(lambda: got["marker"], 120, what="the marker behind the queue")
            back.loop_stop()
            pub.loop_stop()
            return got["event"], got["heartbeat"], len(payload(send))
        finally:
            broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--send", type=int, default=120_000)
    args = parser.parse_args()
    held, beats, size = measure(args.send)
    print(f"shipped: {shipped_limits().replace(chr(10), ', ')}")
    print(f"sent {args.send} events + {args.send} heartbeats to an absent session: "
          f"{held} events held, {beats} heartbeats held; one event {size} bytes")
    print("time a replica may be away before its queue overflows (hours):")
    print("stations  " + "  ".join(f"{r:>4d}/h" for r in RATES))
    for stations in FLEETS:
        print(f"{stations:>8d}  " + "  ".join(f"{held / (stations * r):6.1f}" for r in RATES))


if __name__ == "__main__":
    main()
