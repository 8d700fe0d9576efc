"""/metrics as a scraper and an operator see it: a real collector, timed by curl.

    .venv/bin/python -m tests.bench.scrape [--stations 10000] [--rounds 6] [--events 0]
        [--scrapes 5]

A private Mosquitto and a real `pantau-collector run` process (the fault suite's
CollectorProcess). The collector runs with the shipped systemd unit's Environment=
settings. RSS is the process's VmRSS: `idle` once it is ready, `before scrape`
after N stations sent `--rounds` heartbeat rounds (and `--events` events each), `after
scrape` after the timed scrapes below, once the collector is idle again (bodies sent).
Per station figures are (RSS - idle) / N. Scrapes are `curl -o /dev/null` (a C client,
transfer included): `cold` is the first scrape of the fleet; each `warm` one follows a
heartbeat round of every station (as a 15 s scrape interval sees it), plain and with
`Accept-Encoding: gzip` as Prometheus sends it. Ingest is waited on through the
one-station API (cheap, and it builds none of /metrics' caches), and every scrape waits
for the collector to be idle after the burst (`Scene.settle`), never by sleeping. Goals
(issue 15, 10k stations): warm plain <= 0.100 s, gzip <= 0.200 s and <= 1/8 of the plain
bytes, cold <= 0.300 s; RSS per station before a scrape <= 8 KB, after <= 10 KB, with
events after <= 12 KB.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from pantau import wire
from tests.bench.collector import event_payload, heartbeat
from tests.support.collector_process import CollectorProcess
from tests.support.mosquitto import MosquittoBroker, wait_for

UNIT = Path(__file__).resolve().parents[2] / "deploy/systemd/pantau-collector.service"
T0 = 1.8e9  # heartbeat round r carries ts T0 + r: the API shows which round arrived
PUBLISHERS = 2
UNBOUNDED_QUEUES = (
    "queue_qos0_messages true\nmax_queued_messages 0\nmax_queued_bytes 0\n"
    "max_inflight_messages 0\n"
)


def unit_environment() -> dict[str, str]:
    """The shipped collector unit's Environment= settings: the bench runs it as systemd does."""
    pairs = [ln.split("=", 1)[1] for ln in UNIT.read_text().splitlines()
             if ln.startswith("Environment=")]
    return dict(pair.split("=", 1) for pair in pairs)


def publish(port: int, lo: int, hi: int, rounds: list[int], event_seq: int) -> None:
    """Heartbeat `rounds` of stations lo..hi-1, or (event_seq > 0) one event each."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"scrape-{uuid.uuid4().hex[:8]}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    for r in rounds:
        for i in range(lo, hi):
            client.publish(*heartbeat(i, r, T0 + r), qos=0)
    if event_seq:
        for i in range(lo, hi):
            client.publish(*event_payload(i, event_seq, T0 + event_seq), qos=0)
    client.publish("pantau-bench/fence", b"", qos=1).wait_for_publish(120)
    client.disconnect()
    client.loop_stop()


class AckWatch:
    """The collector's acks to a few stations, as their agents would receive them. Acks
    go out per commit in arrival order, so a wave's last stations' acks come last."""

    def __init__(self, port: int, stations: list[int]) -> None:
        self.seqs: dict[str, int] = {}
        self._topics = [wire.topic_for(f"site-{i % 500:03d}", f"st-{i:06d}", "ack")
                        for i in stations]
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                   client_id=f"scrape-acks-{uuid.uuid4().hex[:6]}")
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        self._client.subscribe([(t, 1) for t in self._topics])

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        self.seqs[msg.topic] = json.loads(msg.payload)["seq"]

    def all_at(self, seq: int) -> bool:
        return all(self.seqs.get(t, -1) >= seq for t in self._topics)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


class Scene:
    """The broker, the collector and the stations' publishers of one sitting."""

    def __init__(self, stations: int) -> None:
        work = Path(tempfile.mkdtemp(prefix="pantau-scrape-"))
        self.stations = stations
        self.broker = MosquittoBroker(work / "mq", extra_config=UNBOUNDED_QUEUES).start()
        self.collector = CollectorProcess(self.broker.url, work / "collector",
                                          client_id=f"scrape-{uuid.uuid4().hex[:6]}")
        # Agents resend what the collector defers; these publishers do not, so the
        # history backlog must never defer one of the waves of 10k+ events.
        with self.collector.config.open("a") as config:
            config.write("[state]\nmax_pending_rows = 1000000\n")
        self.acks = AckWatch(self.broker.port, [hi - 1 for _, hi in self._chunks()])

    def close(self) -> None:
        self.acks.close()
        self.collector.stop()
        self.broker.stop()

    def _chunks(self) -> list[tuple[int, int]]:
        step = -(-self.stations // PUBLISHERS)
        return [(k * step, min(self.stations, (k + 1) * step)) for k in range(PUBLISHERS)]

    def send(self, rounds: list[int], events: int = 0) -> None:
        """Every station sends `rounds`, then `events` events one round at a time (as agents
        do: the collector's history backlog defers a flood of 100k); returns once applied."""
        self._wave(rounds, 0)
        for seq in range(1, events + 1):
            self._wave([], seq)

    def _wave(self, rounds: list[int], event_seq: int) -> None:
        workers = [mp.Process(target=publish, args=(self.broker.port, lo, hi, rounds, event_seq))
                   for lo, hi in self._chunks()]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        lasts = [hi - 1 for _, hi in self._chunks()]
        wait_for(lambda: all(self._arrived(i, rounds[-1] if rounds else 0, event_seq)
                             for i in lasts), 600, interval=0.1, what="the stations' messages")
        if event_seq:  # and the collector is done with the wave: its acks are out, as agents see
            wait_for(lambda: self.acks.all_at(event_seq), 600, interval=0.1,
                     what="the collector's acks")

    def _arrived(self, i: int, round_no: int, event_seq: int) -> bool:
        status, body = self.collector.http(f"/api/v1/stations/st-{i:06d}")
        if status != 200:
            return False
        detail = json.loads(body)
        if event_seq:
            return event_seq in [e.get("seq") for e in detail["recent_events"]]
        return bool(detail["last_heartbeat_ts"] == T0 + round_no)

    def cpu_ticks(self) -> int:
        assert self.collector.proc is not None
        fields = Path(f"/proc/{self.collector.proc.pid}/stat").read_text().rsplit(")", 1)[1]
        return sum(int(f) for f in fields.split()[11:13])  # utime + stime, in clock ticks

    def settle(self) -> None:
        """Wait until the collector is idle (< 2 % of a core over 0.5 s). The bench sends a
        round of 10k heartbeats (or events) in a burst, and what follows it (asset
        observations, the broker's PUBACKs for a wave's 10k acks: ~0.3 s of the loop after
        the last ack is out) would land in the scrape; a fleet's heartbeats come spread
        over their interval (10k stations, 15 s: ~2 % of a core), so a scrape finds the
        collector about as idle as this."""
        seen: list[tuple[float, int]] = []

        def idle() -> bool:
            seen.append((time.monotonic(), self.cpu_ticks()))
            old = [tick for at, tick in seen if at <= seen[-1][0] - 0.5]
            return bool(old) and seen[-1][1] - old[-1] <= 1
        wait_for(idle, 120, interval=0.05, what="the collector to go idle")

    def rss(self) -> int:
        assert self.collector.proc is not None
        status = Path(f"/proc/{self.collector.proc.pid}/status").read_text()
        kib = next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmRSS:"))
        return int(kib) * 1024

    def curl(self, gzip: bool) -> tuple[float, int]:
        """One scrape by curl: (seconds, bytes on the wire)."""
        cmd = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total} %{size_download}"]
        if gzip:
            cmd += ["-H", "Accept-Encoding: gzip"]
        out = subprocess.run([*cmd, self.collector.base + "/metrics"], capture_output=True,
                             text=True, check=True, timeout=120).stdout.split()
        if out[0] != "200":
            raise RuntimeError(f"/metrics answered {out[0]}")
        return float(out[1]), int(out[2])


def measure(stations: int, rounds: int, events: int, scrapes: int) -> dict[str, object]:
    scene = Scene(stations)
    os.environ.update(unit_environment())  # inherited by the collector process
    try:
        scene.collector.start(ready_timeout=60)
        idle = scene.rss()
        scene.send(list(range(1, rounds + 1)), events)
        before = scene.rss()
        scene.settle()
        cold_s, plain_bytes = scene.curl(gzip=False)
        plain, gz, gz_bytes = [], [], 0
        for k in range(scrapes):
            scene.send([rounds + 1 + 2 * k])
            scene.settle()
            plain.append(scene.curl(gzip=False)[0])
            scene.send([rounds + 2 + 2 * k])
            scene.settle()
            took, gz_bytes = scene.curl(gzip=True)
            gz.append(took)
        scene.settle()
        after = scene.rss()
    finally:
        scene.close()
    return {
        "stations": stations, "events_per_station": events,
        "cold_plain_s": round(cold_s, 3),
        "warm_plain_s": _spread(plain), "warm_gzip_s": _spread(gz),
        "plain_bytes": plain_bytes, "gzip_bytes": gz_bytes,
        "gzip_share": round(gz_bytes / plain_bytes, 3),
        "rss_idle_MiB": round(idle / 2**20, 1),
        "rss_B_per_station_before_scrape": round((before - idle) / stations),
        "rss_B_per_station_after_scrape": round((after - idle) / stations),
    }


def _spread(seconds: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(seconds), 3), "best": round(min(seconds), 3)}


def table(rows: list[dict[str, object]]) -> str:
    out = ["stations events | cold plain | warm plain med/best | warm gzip med/best | gzip share"
           " | RSS B/station before scrape | after scrape"]
    for r in rows:
        wp, wg = r["warm_plain_s"], r["warm_gzip_s"]
        assert isinstance(wp, dict) and isinstance(wg, dict)
        out.append(
            f"{r['stations']:>8} {r['events_per_station']:>6} | {r['cold_plain_s']:>8} s"
            f" | {wp['median']} / {wp['best']} s | {wg['median']} / {wg['best']} s"
            f" | {r['gzip_share']} | {r['rss_B_per_station_before_scrape']}"
            f" | {r['rss_B_per_station_after_scrape']}")
    out.append("goals at 10k: cold <= 0.300 s, warm plain <= 0.100 s, gzip <= 0.200 s and"
               " <= 0.125 of plain; RSS before <= 8192, after <= 10240, with events after <= 12288")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--events", type=int, nargs="+", default=[0],
                        help="events per station; one row each (e.g. 0 20)")
    parser.add_argument("--scrapes", type=int, default=5)
    opts = parser.parse_args()
    rows = [measure(opts.stations, opts.rounds, e, opts.scrapes) for e in opts.events]
    for row in rows:
        print(json.dumps(row), flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
