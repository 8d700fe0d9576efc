"""How long a collector replica may be away on NATS, and what happens past that.

    .venv/bin/python -m tests.bench.replica_queue_nats [--store-mb 4] [--send 30000]

Method. One real nats-server (Debian's, 2.9) with JetStream and its MQTT
listener, its file store capped at `--store-mb` (the shipped HA config,
deploy/nats/pantau.conf, caps it at 10GB: too much to fill here, so the
figure is scaled from what one event costs). A collector's persistent session
subscribes (events at QoS 1) and leaves; a station publishes `--send` events
at QoS 1. Printed: the events JetStream kept for the absent session and the
bytes each costs, what the publisher saw once the store was full, and whether
a station's new MQTT session, and the absent replica's own, are accepted then;
and, scaled to 10GB, the time a replica may be away.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import urllib.request
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.bench.replica_queue import FLEETS, RATES, client, payload
from tests.support.mosquitto import free_port, wait_for

EVENTS = "pantau/v1/medan-baru/medan-baru-01/event"
SHIPPED_STORE = 10 * 1024**3  # deploy/nats/pantau.conf: max_file_store: 10GB


def start_nats(workdir: Path, store_mb: int) -> tuple[subprocess.Popen[bytes], int, int]:
    mqtt_port, http_port = free_port(), free_port()
    conf = workdir / "nats.conf"
    conf.write_text(
        f"listen: 127.0.0.1:{free_port()}\nhttp: 127.0.0.1:{http_port}\nserver_name: bench\n"
        f'jetstream {{ store_dir: "{workdir / "js"}", max_file_store: {store_mb}MB, '
        f"max_memory_store: 16MB }}\nmqtt {{ listen: 127.0.0.1:{mqtt_port} }}\n")
    log = open(workdir / "nats.log", "wb")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen(["nats-server", "-c", str(conf)], stdout=log, stderr=log)
    wait_for(lambda: _healthy(http_port), 15, what="nats-server healthy")
    return proc, mqtt_port, http_port


def _healthy(http_port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def kept(http_port: int) -> tuple[int, int]:
    """(messages, bytes) of the stream that holds absent sessions' QoS 1 messages."""
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/jsz?streams=true") as r:
        doc = json.load(r)
    for account in doc.get("account_details", []):
        for stream in account.get("stream_detail", []):
            if stream["name"] == "$MQTT_msgs":
                return int(stream["state"]["messages"]), int(stream["state"]["bytes"])
    return 0, 0


def session_accepted(port: int, client_id: str) -> bool:
    result: list[bool] = []
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                    protocol=mqtt.MQTTv311)
    c.on_connect = lambda _c, _u, _f, rc, _p: result.append(not rc.is_failure)
    c.on_disconnect = lambda *_: result.append(False)
    try:
        c.connect("127.0.0.1", port)
    except OSError:
        return False
    c.loop_start()
    wait_for(lambda: result, 15, what=f"CONNACK or close for {client_id}")
    c.disconnect()
    c.loop_stop()
    return result[0]


def fill(port: int, send: int) -> tuple[int, bool]:
    """Publish until done or refused: (events PUBACKed, publisher cut off)."""
    acked: list[int] = []
    cut: list[bool] = []
    pub = client(port, "bench-station", clean=True)
    pub.on_publish = lambda *_: acked.append(1)
    pub.on_disconnect = lambda *_: cut.append(True)
    pub.reconnect_delay_set(60, 60)  # once cut off, stay off: we count what got in
    for seq in range(1, send + 1):
        pub.publish(EVENTS, payload(seq), qos=1)
        if seq % 500 == 0:
            wait_for(lambda s=seq: len(acked) >= s or cut, 30, what="PUBACKs or a cut")
            if cut:
                break
    wait_for(lambda: len(acked) >= send or cut, 30, what="the last PUBACKs or a cut")
    pub.loop_stop()
    return len(acked), bool(cut)


def measure(store_mb: int, send: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        proc, port, http_port = start_nats(Path(tmp), store_mb)
        try:
            subacks: list[object] = []
            sub = client(port, "pantau-collector-b", clean=False)
            sub.on_subscribe = lambda *args: subacks.append(args)
            sub.subscribe(EVENTS, qos=1)
            wait_for(lambda: subacks, 10, what="SUBACK")
            sub.disconnect()
            sub.loop_stop()
            acked, cut = fill(port, send)
            messages, size = kept(http_port)
            full_accepts = session_accepted(port, "a-station-reconnecting")
            replica_back = session_accepted(port, "pantau-collector-b")
            return {"acked": acked, "cut": cut, "kept": messages, "bytes": size,
                    "full_accepts": full_accepts, "replica_back": replica_back}
        finally:
            proc.terminate()
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store-mb", type=int, default=4)
    parser.add_argument("--send", type=int, default=30_000)
    args = parser.parse_args()
    r = measure(args.store_mb, args.send)
    per = int(r["bytes"]) / max(1, int(r["kept"]))  # type: ignore[call-overload]
    print(f"nats-server, max_file_store {args.store_mb}MB: sent {args.send} events to an absent "
          f"collector session; {r['acked']} PUBACKed, publisher cut off: {r['cut']}")
    print(f"kept for the session: {r['kept']} events, {r['bytes']} bytes ({per:.0f} B each)")
    print(f"while full, a station's new MQTT session accepted: {r['full_accepts']}; "
          f"the absent replica's own session accepted: {r['replica_back']}")
    capacity = SHIPPED_STORE / per
    print(f"scaled to max_file_store 10GB: {capacity:,.0f} events; hours away before it fills:")
    print("stations  " + "  ".join(f"{x:>4d}/h" for x in RATES))
    for stations in FLEETS:
        print(f"{stations:>8d}  " + "  ".join(f"{capacity / (stations * x):6.0f}" for x in RATES))


if __name__ == "__main__":
    main()
