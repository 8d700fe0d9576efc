"""The collector's ingest on the HA broker (a 3-node NATS cluster) beside Mosquitto: same stream.

    .venv/bin/python -m tests.bench.engines [--stations 10000] [--rounds 3] [--repeat 3]

tests/bench/collector.py drains a queue Mosquitto keeps for an offline QoS 0
subscriber; NATS keeps none, so here the collector is connected first and the
same publisher processes (tests/bench/collector.py's `flood`, ~1.4 KB heartbeats)
send to it live. The figure is the collector's own CPU time per heartbeat it
applied (a child process: `time.process_time()` from its first heartbeat to its
last), which is what failover must not add to; the receive rate and any
heartbeats the broker dropped on the way are printed beside it. Runs alternate
between the engines; the best of `--repeat` is kept for each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.collector import flood
from tests.support.mosquitto import MosquittoBroker
from tests.support.nats_plain import PlainNatsCluster

UNBOUNDED = "max_queued_messages 0\nmax_queued_bytes 0\n"


def run_collector(url: str, expected: int) -> None:
    """Child: a real collector app; prints `ready` once subscribed, then its figures."""
    from aiohttp import web

    from collector.app import build_app
    from collector.app_keys import HEALTH_KEY, STATS_KEY
    from collector.config import CliOverrides, load_collector_config
    from collector.registry import Registry

    async def main() -> None:
        data = Path(tempfile.mkdtemp(prefix="pantau-engines-"))
        config = load_collector_config(None, CliOverrides(broker=url, data_dir=data))
        app = build_app(config, Registry.empty())
        runner = web.AppRunner(app)
        await runner.setup()
        stats, health = app[STATS_KEY], app[HEALTH_KEY]
        while not health.ready:  # subscribed, and the retained burst applied
            await asyncio.sleep(0.01)
        print("ready", flush=True)
        seen, cpu0, t0, last, deadline = 0, 0.0, 0.0, time.monotonic(), time.monotonic() + 300
        while seen < expected and time.monotonic() < deadline and time.monotonic() - last < 10:
            await asyncio.sleep(0.01)
            now = stats.messages["heartbeat"]
            if now and not seen:
                cpu0, t0 = time.process_time(), time.perf_counter()
            if now != seen:
                seen, last = now, time.monotonic()
        cpu, took = time.process_time() - cpu0, time.perf_counter() - t0
        figures = {"cpu_us_per_heartbeat": round(1e6 * cpu / seen, 2),
                   "rate": round(seen / took)} if seen else {}
        print(json.dumps({"heartbeats": seen, **figures}), flush=True)
        await runner.cleanup()

    asyncio.run(main())


def one_run(url: str, port: int, stations: int, rounds: int) -> dict[str, object]:
    expected = stations * rounds
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.engines", "--role", url, str(expected)],
        stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    if child.stdout.readline().strip() != "ready":
        child.kill()
        return {"error": "the collector did not connect"}
    publish_rate = flood(port, stations, rounds)
    line = child.stdout.readline()
    child.wait(60)
    result: dict[str, object] = json.loads(line) if line.startswith("{") else {"error": line}
    result["dropped"] = expected - int(str(result.get("heartbeats", 0)))
    result["publish_rate"] = round(publish_rate)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--role", nargs=2, help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.role:
        return run_collector(opts.role[0], int(opts.role[1]))
    work = Path(tempfile.mkdtemp(prefix="pantau-engines-"))
    mosquitto = MosquittoBroker(work / "mosquitto", extra_config=UNBOUNDED).start()
    nats = PlainNatsCluster(work / "nats").start()
    engines = {"mosquitto": (mosquitto.url, mosquitto.port),
               "nats, 3 nodes": (nats.nodes[0].url, nats.nodes[0].mqtt_port)}
    runs: dict[str, list[dict[str, object]]] = {name: [] for name in engines}
    try:
        for _ in range(opts.repeat):
            for name, (url, port) in engines.items():
                runs[name].append(one_run(url, port, opts.stations, opts.rounds))
    finally:
        mosquitto.stop()
        nats.stop()
    for name, results in runs.items():
        costs = [float(str(r["cpu_us_per_heartbeat"])) for r in results
                 if "cpu_us_per_heartbeat" in r]
        best = min(costs) if costs else None
        print(f"{name:14s}: best {best} µs CPU per heartbeat; runs {results}")
    print(f"{opts.stations} stations x {opts.rounds} rounds, {opts.repeat} runs per engine")


if __name__ == "__main__":
    main()
