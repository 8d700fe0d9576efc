"""Inside the Debian root, with the installed collector's Python (and its paho):
print the retained messages the broker still holds under a topic filter.

    python3 retained_check.py HOST PORT CA_FILE USER PASSWORD_FILE FILTER MARKER_TOPIC

Subscribes to FILTER, then publishes a QoS 1 marker to MARKER_TOPIC (which
USER may write and read) and waits for it: the broker queues a subscription's
retained messages before the later marker, so once the marker is back every
retained message there is has arrived. Prints one "topic<TAB>payload length"
line per retained message (none: nothing retained), exit 0; exit 1 on errors.
"""

from __future__ import annotations

import sys
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def main() -> int:
    if len(sys.argv) != 8:
        print(__doc__, file=sys.stdout if sys.argv[1:] in (["-h"], ["--help"]) else sys.stderr)
        return 0 if sys.argv[1:] in (["-h"], ["--help"]) else 2
    host, port, ca_file, user, password_file, topic_filter, marker = sys.argv[1:8]
    retained: list[str] = []
    subscribed, marked = threading.Event(), threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{user}-retained-check")
    client.tls_set(ca_certs=ca_file)
    with open(password_file, encoding="utf-8") as f:
        client.username_pw_set(user, f.read().strip())

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == marker:
            marked.set()
        elif msg.retain:
            retained.append(f"{msg.topic}\t{len(msg.payload)}")

    client.on_message = on_message
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect(host, int(port))
    client.loop_start()
    client.subscribe([(topic_filter, 1), (marker, 1)])
    if not subscribed.wait(10):
        print("no SUBACK within 10 s", file=sys.stderr)
        return 1
    client.publish(marker, b"marker", qos=1)
    if not marked.wait(10):
        print("the marker did not come back within 10 s", file=sys.stderr)
        return 1
    client.disconnect()
    client.loop_stop()
    print("\n".join(retained))
    return 0


if __name__ == "__main__":
    sys.exit(main())
