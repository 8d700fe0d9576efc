"""Collector ingest and /metrics benchmark: prints figures, asserts nothing.

    /tmp/venv/bin/python -m tests.bench.collector [--stations 10000 100000] [--skip-exporter]
        [--repeat 3]
    /tmp/venv/bin/python -m tests.bench.collector --broker-list [--stations 10000]

Method. A private Mosquitto with `queue_qos0_messages true` and no queue
limits. For each subscriber under test we first register its persistent
session (same client id, clean_session=False, heartbeat filter at QoS 0), then
publisher PROCESSES flood realistic heartbeats (~1.4 KB, 5 components) of N
simulated stations while it is offline, then the subscriber connects and
drains the queue: rate = messages / (last - first receipt). Draining a queue
isolates the subscriber from the publishers on a small machine.
Subscribers: the collector (build_app, real Fleet, dispatcher, store), a bare
paho subscriber that only counts, and mqtt-exporter from PyPI (in its own venv
under ~/.cache/pantau-bench; the harness only forces clean_session=False so it
can drain the same queue). /metrics: MetricsRenderer cold (first render) and
warm (1% of stations changed), versus a prometheus_client custom collector
that builds GaugeMetricFamily objects of the very same samples on every scrape
(the usual exporter style), timed with generate_latest, in that same venv.
"/metrics with opening hours" renders as the app's handler does with a registry
of the 500 sites under a [schedule] and 50 stations in a maintenance window:
the station families, the capacity tally (at most once a second) and the site rows.
--broker-list: only the collector's ingest, with one broker URL and with a
list of two nodes (the live one first; the second is never reached), runs
interleaved on the same queued stream: a broker list costs nothing per message.
"/metrics as a scraper sees it" (tests/bench/scrape.py; alone: --scrape-only) times a
real pantau-collector process with curl, plain and gzip, and prints its RSS per station
from idle to after 6 heartbeat rounds before and after a scrape, with and without events.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from pantau import wire
from tests.support.mosquitto import MosquittoBroker

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pantau-bench"
VENV = CACHE / "venv-exporter"
FILTER = "pantau/v1/+/+/heartbeat"
COMPONENTS = ("fingerprint", "iris", "camera", "signature-pad", "card-reader")


def heartbeat(i: int, seq: int, ts: float) -> tuple[str, bytes]:
    site, station = f"site-{i % 500:03d}", f"st-{i:06d}"
    comps = [
        wire.Component(
            id=c,
            kind="usb",
            required=True,
            status="ok",
            since=1.7e9,
            device=wire.Device(vid="05ba", pid="000a", port="1-2"),
        )
        for c in COMPONENTS
    ]
    host = wire.Host(
        hostname=f"pc-{i}",
        boot_time=1.7e9,
        cpu_ratio=0.1 + seq % 5 / 10,  # host figures move with every heartbeat, as they do
        load1=0.2,
        memory_used_ratio=0.5,
        swap_used_ratio=0.0,
        temperature_c=50.0,
        disks=[wire.Disk(mount="/", used_ratio=0.6, free_bytes=10**10)],
    )
    hb = wire.Heartbeat(
        v=1,
        site=site,
        station=station,
        seq=seq,
        boot_id="boot-1",
        ts=ts,
        interval_s=15.0,
        agent=wire.AgentInfo(version="0.1.0", uptime_s=60.0),
        host=host,
        components=comps,
        checks=[wire.Check(id="server", kind="tcp", status="ok", latency_s=0.01)],
        unexpected=[],
    )
    return wire.topic_for(site, station, "heartbeat"), wire.encode(hb)


def publisher(port: int, lo: int, hi: int, rounds: int) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    for r in range(rounds):
        for i in range(lo, hi):
            topic, payload = heartbeat(i, r + 1, time.time())
            client.publish(topic, payload, qos=0)
    # A QoS 1 fence: Mosquitto handles one connection's packets in order, so its PUBACK
    # means every heartbeat before it is already queued for the subscriber.
    client.publish("pantau-bench/fence", b"", qos=1).wait_for_publish(120)
    client.disconnect()
    client.loop_stop()


def flood(port: int, stations: int, rounds: int, procs: int = 2) -> float:
    step = -(-stations // procs)
    started = time.perf_counter()
    workers = [
        mp.Process(target=publisher, args=(port, k * step, min(stations, (k + 1) * step), rounds))
        for k in range(procs)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return stations * rounds / (time.perf_counter() - started)


def register_session(port: int, client_id: str) -> None:
    """Create the offline persistent session the subscriber will drain."""
    done: list[int] = []
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    c.on_subscribe = lambda *a: done.append(1)
    c.connect("127.0.0.1", port)
    c.subscribe(FILTER, qos=0)
    while not done:
        c.loop(0.1)
    c.disconnect()


# --- subscribers (run as child processes; print one JSON line) ---------------


def _report(count: int, first: float, last: float) -> None:
    print(json.dumps({"count": count, "rate": count / max(last - first, 1e-9)}), flush=True)


def run_bare(port: int, expected: int, client_id: str) -> None:
    state = {"n": 0, "first": 0.0, "last": 0.0}

    def on_message(_c: object, _u: object, _m: object) -> None:
        now = time.perf_counter()
        state["first"] = state["first"] or now
        state["n"] += 1
        state["last"] = now

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    c.on_message = on_message
    c.connect("127.0.0.1", port)
    deadline = time.monotonic() + 300
    while state["n"] < expected and time.monotonic() < deadline:
        c.loop(0.5)
    _report(int(state["n"]), state["first"], state["last"])


def run_collector(port: int, expected: int, client_id: str, nodes: int = 1) -> None:
    from dataclasses import replace

    from aiohttp import web

    from collector.app import build_app
    from collector.app_keys import STATS_KEY
    from collector.config import CliOverrides, load_collector_config
    from collector.registry import Registry

    async def main() -> None:
        data = Path(tempfile.mkdtemp(prefix="pantau-bench-"))
        # A list: the live node, then one that is never reached while the first works.
        urls = (f"mqtt://127.0.0.1:{port}", "mqtt://127.0.0.1:1")[:nodes]
        config = load_collector_config(None, CliOverrides(broker=urls, data_dir=data))
        config = replace(config, broker=replace(config.broker, client_id=client_id))
        app = build_app(config, Registry.empty())
        runner = web.AppRunner(app)
        await runner.setup()  # no HTTP site: nothing scrapes during the drain
        stats, first, deadline = app[STATS_KEY], 0.0, time.monotonic() + 300
        while stats.messages["heartbeat"] < expected and time.monotonic() < deadline:
            first = first or (time.perf_counter() if stats.messages["heartbeat"] else 0.0)
            await asyncio.sleep(0.01)
        last = time.perf_counter()
        _report(stats.messages["heartbeat"], first, last)
        await runner.cleanup()

    asyncio.run(main())


EXPORTER_HARNESS = Path(__file__).with_name("exporter_harness.py")


def run_exporter(port: int, expected: int, client_id: str, budget_s: float) -> dict[str, object]:
    harness = EXPORTER_HARNESS
    env = {
        **os.environ,
        "MQTT_ADDRESS": "127.0.0.1",
        "MQTT_PORT": str(port),
        "MQTT_TOPIC": FILTER,
        "MQTT_CLIENT_ID": client_id,
        "PROMETHEUS_PORT": "0",
        "LOG_LEVEL": "ERROR",
        "MAX_METRICS": "100000",
    }
    done = subprocess.run(
        [str(VENV / "bin" / "python"), str(harness), str(expected), str(budget_s)],
        env=env,
        capture_output=True,
        text=True,
        timeout=budget_s + 120,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"error": (done.stderr or done.stdout)[-400:]}
    return dict(json.loads(lines[-1]))


def exporter_venv() -> str | None:
    """None when ready, else why not."""
    if (VENV / "bin" / "python").exists():
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True)
        subprocess.run(
            [str(VENV / "bin" / "pip"), "install", "-q", "mqtt-exporter", "prometheus_client"],
            check=True,
            capture_output=True,
            timeout=600,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        return f"cannot install mqtt-exporter: {exc}"
    return None


# --- /metrics and memory -------------------------------------------------------


def _rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def schedule_registry(stations: int, windows: int = 50) -> Any:
    """500 sites under one [schedule], `windows` stations each in a window on now."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from collector.registry import load_registry

    now = datetime.now(ZoneInfo("Asia/Jakarta"))
    start, end = (now - timedelta(hours=1)).isoformat(), (now + timedelta(hours=1)).isoformat()
    days = ", ".join(f'{d} = ["00:00-24:00"]' for d in ("mon", "tue", "wed", "thu", "fri",
                                                        "sat", "sun"))
    lines = ['[schedule]', 'timezone = "Asia/Jakarta"', f"holidays = [{now.year}-12-25]",
             f"hours = {{ {days} }}"]
    for site in sorted({f"site-{i % 500:03d}" for i in range(stations)}):
        lines.append(f"[sites.{site}]")
    for i in range(min(windows, stations)):
        site, station = f"site-{i % 500:03d}", f"st-{i:06d}"
        lines += [f"[[sites.{site}.maintenance]]", f"start = {start}", f"end = {end}",
                  f'stations = ["{station}"]', f"[stations.{station}]", f'site = "{site}"']
    path = Path(tempfile.mkdtemp(prefix="pantau-bench-")) / "fleet.toml"
    path.write_text("\n".join(lines) + "\n")
    return load_registry(path)


def event_payload(i: int, seq: int, ts: float) -> tuple[str, bytes]:
    site, station = f"site-{i % 500:03d}", f"st-{i:06d}"
    ev = wire.Event(
        v=1, site=site, station=station, boot_id="boot-1", seq=seq, ts=ts,
        component=COMPONENTS[seq % len(COMPONENTS)], from_="ok" if seq % 2 else "missing",
        to="missing" if seq % 2 else "ok", detail="not found on any USB port" if seq % 2 else "",
        oldest_pending=max(1, seq - 2),
    )
    return wire.topic_for(site, station, "event"), wire.encode(ev)


def run_render(stations: int, out: Path, schedule: bool = False, events: int = 0) -> None:
    """Child process: fleet of N stations via real heartbeats; render times and RSS.

    RSS per station: `fleet` is the state alone; `steady` adds the render
    cache, measured after a scrape once its response body is gone (the body is
    transient, freed when sent); `peak` is during a scrape, body included.
    Heartbeats are made on the fly so no freed input buffers flatter the figures.
    With `events`, each station also sends that many events (decoded and applied as
    ingest does: the fleet keeps each boot's ack mark; the events themselves go to the
    history store, which this in-process bench leaves out) after its first heartbeat, so
    `fleet` and `steady` include them.
    """
    import gc

    from collector.asset_feed import AssetFeed
    from collector.exposition import MetricsRenderer
    from collector.exposition_gzip import gzip_pieces
    from collector.fleet import Fleet
    from collector.registry import Registry
    from collector.site_capacity import CapacityTally
    from collector.site_schedule import SiteSchedules
    from collector.site_schedule_metrics import SiteMetrics
    from collector.stats import IngestStats
    from collector.store_assets import AssetStore

    def beat_round(seq: int, step: int = 1) -> None:
        for i in range(0, stations, step):
            topic, payload = heartbeat(i, seq, time.time())
            _, msg = wire.decode_message(topic, payload)
            fleet.apply_heartbeat(msg, time.time())  # type: ignore[arg-type]
        fleet.drain_transitions()  # as the app's tick does, into the history store
        # ... and into the asset register, repairs and readiness: a step and a commit per
        # second until the backlog of new component sets is digested.
        while True:
            assets.step(fleet, time.time(), ready=True)
            asyncio.run(assets.flush())
            if not assets.backlog:
                break

    hours_s: list[float] = []  # the opening-hours part alone: capacity tally + site rows
    scrape_at = [time.time()]  # scrapes 15 s apart: the tally's 1 s limit never hides it

    def timed_render() -> tuple[float, bytes]:
        gc.collect()
        t0 = time.perf_counter()
        hours = b""
        if schedule:  # what the app's /metrics handler adds
            scrape_at[0] += 15.0
            hours = site_metrics.render(schedules, tally.get(fleet, schedules, scrape_at[0]))
            hours_s.append(time.perf_counter() - t0)
        body = renderer.render(fleet, stats, None, hours)
        return time.perf_counter() - t0, body

    def event_rounds() -> None:
        for seq in range(1, events + 1):
            for i in range(stations):
                topic, payload = event_payload(i, seq, time.time())
                _, msg = wire.decode_message(topic, payload)
                fleet.apply_event(msg, time.time())  # type: ignore[arg-type]

    registry = schedule_registry(stations) if schedule else Registry.empty()
    schedules, tally, site_metrics = SiteSchedules(), CapacityTally(), SiteMetrics()
    schedules.refresh(registry, time.time())  # the app's tick does this, not the scrape
    store = AssetStore(Path(tempfile.mkdtemp(prefix="pantau-bench-assets-")))
    asyncio.run(store.open())
    assets = AssetFeed(store, 120.0)
    gc.collect()
    before = _rss()
    fleet = Fleet(registry, now=time.time())
    beat_round(1)
    event_rounds()
    gc.collect()
    fleet_rss = (_rss() - before) / stations
    renderer, stats = MetricsRenderer("bench"), IngestStats()
    cold, body = timed_render()
    peak_rss = (_rss() - before) / stations
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(body)
    size = len(body)
    del body
    gc.collect()
    steady_rss = (_rss() - before) / stations
    warm_1pct, warm_all = [], []
    for r in range(3):
        beat_round(r + 2, step=100)  # 1% of the fleet changed since the last scrape
        warm_1pct.append(timed_render()[0])
    gzip_s, gzip_bytes = [], 0
    for r in range(3):
        beat_round(r + 10)  # every station heartbeated, host figures moved: a 15 s scrape
        took, body = timed_render()
        warm_all.append(took)
        t0 = time.perf_counter()
        gzip_bytes = sum(map(len, gzip_pieces([body])))  # what /metrics adds when the scraper asks
        gzip_s.append(took + time.perf_counter() - t0)
        del body
    print(
        json.dumps(
            {
                "cold_s": round(cold, 4),
                "warm_s": round(statistics.median(warm_1pct), 4),
                "warm_all_changed_s": round(statistics.median(warm_all), 4),
                "bytes": size,
                "warm_all_changed_gzip_s": round(statistics.median(gzip_s), 4),
                "gzip_bytes": gzip_bytes,
                "gzip_ratio": round(size / gzip_bytes, 1),
                "rss_B_per_station_fleet": round(fleet_rss),
                "rss_B_per_station_steady": round(steady_rss),
                "rss_B_per_station_peak_in_scrape": round(peak_rss),
                **({"hours_part_warm_all_changed_s": round(statistics.median(hours_s[-3:]), 4)}
                   if hours_s else {}),
            }
        ),
        flush=True,
    )


BASELINE = Path(__file__).with_name("metricfamily_baseline.py")


def run_baseline(body: Path, repeats: int) -> dict[str, object]:
    script = BASELINE
    done = subprocess.run(
        [str(VENV / "bin" / "python"), str(script), str(body), str(repeats)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    return dict(json.loads(lines[-1])) if lines else {"error": done.stderr[-400:]}


def child(role: str, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.collector", "--role", role, *args],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    return dict(json.loads(lines[-1])) if lines else {"error": done.stderr[-600:]}


# --- orchestration ---------------------------------------------------------------


def ingest_row(broker: MosquittoBroker, role: str, stations: int, rounds: int) -> dict[str, object]:
    client_id = f"bench-{role}-{uuid.uuid4().hex[:6]}"
    register_session(broker.port, client_id)
    pub_rate = flood(broker.port, stations, rounds)
    expected = stations * rounds
    if role == "exporter":
        result = run_exporter(broker.port, expected, client_id, budget_s=60.0)
    else:
        result = child(role, str(broker.port), str(expected), client_id)
    return {**result, "publish_rate": pub_rate}


def best_of(
    broker: MosquittoBroker, roles: list[str], stations: int, rounds: int, repeat: int
) -> dict[str, dict[str, object]]:
    """Each role `repeat` times, interleaved, keeping its fastest run: on a shared
    machine the best run is the code, the others are the neighbours' load."""
    runs: dict[str, list[dict[str, object]]] = {role: [] for role in roles}
    for _ in range(repeat):
        for role in roles:
            runs[role].append(ingest_row(broker, role, stations, rounds))
    best: dict[str, dict[str, object]] = {}
    for role, results in runs.items():
        rates = [_rate(r) for r in results]
        top = results[rates.index(max(rates))]
        best[role] = {**top, "all_rates": [round(x) for x in rates]}
    return best


def _rate(result: dict[str, object]) -> float:
    rate = result.get("rate")
    return rate if isinstance(rate, float) else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--skip-exporter", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs per ingest row; best kept")
    parser.add_argument("--memory-only", action="store_true",
                        help="only RSS per station, heartbeats only and with events flowing")
    parser.add_argument("--broker-list", action="store_true",
                        help="only ingest, with one broker URL vs a list of two")
    parser.add_argument("--scrape-only", action="store_true",
                        help="only /metrics timed by curl and RSS per station (tests/bench/scrape)")
    parser.add_argument("--role")
    parser.add_argument("args", nargs="*")
    opts = parser.parse_args()
    if opts.role == "bare":
        return run_bare(int(opts.args[0]), int(opts.args[1]), opts.args[2])
    if opts.role in ("collector", "collector-list"):
        nodes = 2 if opts.role == "collector-list" else 1
        return run_collector(int(opts.args[0]), int(opts.args[1]), opts.args[2], nodes)
    if opts.role == "render":
        flags = opts.args[2:]
        events = next((int(f.split("=", 1)[1]) for f in flags if f.startswith("events=")), 0)
        return run_render(int(opts.args[0]), Path(opts.args[1]), "schedule" in flags, events)
    if opts.memory_only:
        return memory_report(opts.stations)
    if opts.scrape_only:
        return scrape_report(opts.stations)
    why_not = None if opts.skip_exporter or opts.broker_list else exporter_venv()
    broker = MosquittoBroker(
        Path(tempfile.mkdtemp(prefix="pantau-bench-mq-")),
        extra_config=(
            "queue_qos0_messages true\nmax_queued_messages 0\nmax_queued_bytes 0\n"
            "max_inflight_messages 0\n"
        ),
    ).start()
    try:
        if opts.broker_list:
            list_report(broker, opts.stations, opts.repeat)
        else:
            report(broker, opts.stations, opts.skip_exporter, why_not, opts.repeat)
    finally:
        broker.stop()


def list_report(broker: MosquittoBroker, sizes: list[int], repeat: int) -> None:
    for n in sizes:
        rounds = max(1, 100_000 // n) if n < 100_000 else 2
        rows = best_of(broker, ["collector", "collector-list"], n, rounds, repeat)
        print(f"\n== {n} stations, {n * rounds} heartbeats queued then drained ==")
        for role, row in rows.items():
            print(f"  ingest {role:14s}: {row}")
        one, two = _rate(rows["collector"]), _rate(rows["collector-list"])
        if one and two:
            print(f"  broker list / one url = {two / one:.2f}")


EVENTS_PER_STATION = 25  # more than the 20 the fleet keeps, so every station's ring is full


def memory_report(sizes: list[int]) -> None:
    """RSS per station after a scrape, heartbeats only beside events flowing."""
    for n in sizes:
        rows = {events: child("render", str(n), str(CACHE / f"metrics-{n}-{events}.txt"),
                              f"events={events}") for events in (0, EVENTS_PER_STATION)}
        print(f"== {n} stations: RSS per station after a scrape (steady), fleet state alone ==")
        for events, row in rows.items():
            what = "heartbeats only" if not events else f"+ {events} events per station"
            print(f"  {what:28s}: steady {row.get('rss_B_per_station_steady')} B, "
                  f"fleet {row.get('rss_B_per_station_fleet')} B  {row}")
        print("  (goals: heartbeats only <= 8192 B, with events <= 12288 B)")


def scrape_report(sizes: list[int]) -> None:
    from tests.bench import scrape  # it builds its messages with this module's heartbeat()

    for n in sizes:
        rows = [scrape.measure(n, rounds=6, events=e, scrapes=5) for e in (0, 20)]
        print(f"  /metrics as a scraper sees it (curl, a real collector process), {n} stations:")
        print("    " + scrape.table(rows).replace("\n", "\n    "))


def report(
    broker: MosquittoBroker, sizes: list[int], skip_exporter: bool, why_not: str | None,
    repeat: int,
) -> None:
    print(f"cpu cores: {os.cpu_count()}; heartbeat payload {len(heartbeat(0, 1, 0.0)[1])} B")
    for n in sizes:
        rounds = max(1, 100_000 // n) if n < 100_000 else 2
        rows = best_of(broker, ["collector", "bare"], n, rounds, repeat)
        if not (skip_exporter or why_not):
            rows["exporter"] = ingest_row(broker, "exporter", n, rounds)
        print(f"\n== {n} stations, {n * rounds} heartbeats queued then drained ==")
        for role, row in rows.items():
            print(f"  ingest {role:9s}: {row}")
        bare = rows["bare"].get("rate")
        col = rows["collector"].get("rate")
        if isinstance(bare, float) and isinstance(col, float):
            print(f"  collector / bare paho   = {col / bare:.2f}  (goal >= 0.6)")
        exp = rows.get("exporter", {}).get("rate")
        if isinstance(exp, float) and isinstance(col, float):
            print(f"  collector / mqtt-exporter = {col / exp:.1f}  (goal >= 10)")
        if why_not:
            print(f"  mqtt-exporter not measured: {why_not}")
        body = CACHE / f"metrics-{n}.txt"
        render = child("render", str(n), str(body))
        print(f"  /metrics render: {render}")
        hours = child("render", str(n), str(CACHE / f"metrics-{n}-hours.txt"), "schedule")
        print(f"  /metrics with opening hours (500 sites, 50 stations in maintenance): {hours}")
        print("    (goal at 10k: warm <= 0.100 s; gzip <= 2x plain time and <= 1/8 of its bytes;"
              " RSS goal <= 8192 B/station, steady)")
        scrape_report([n])
        with_events = child("render", str(n), str(CACHE / f"metrics-{n}-events.txt"),
                            f"events={EVENTS_PER_STATION}")
        print(f"  with {EVENTS_PER_STATION} events per station: {with_events}")
        print("    (RSS goal with events <= 12288 B/station, steady)")
        if not why_not and not skip_exporter:
            print(
                f"  prometheus_client MetricFamily baseline: "
                f"{run_baseline(body, 3 if n <= 10_000 else 1)}"
            )


if __name__ == "__main__":
    main()
