"""How long until the stations of a dead NATS node are shown stale (no Will ever comes).

    .venv/bin/python -m tests.bench.nats_staleness [--stations 20] [--interval 15]

Method. A 3-node NATS cluster (tests/support/nats_plain.py). `pantau-agent
simulate` (the real agent over simulated kits) with the first node only in
its list, so its stations cannot move, at the shipped heartbeat (15 s); the
real collector on the second node with the simulated fleet's registry. Once
every station is online and has sent a few heartbeats, kill -9 the first node
and sample /api every 0.2 s until every station is stale. Prints min, p50 and
max of the time from the kill, and every state seen (`lost` would mean a Will
came). Asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.collector_process import CollectorProcess, StateSampler
from tests.support.mosquitto import wait_for
from tests.support.nats_plain import PlainNatsCluster

REPO = Path(__file__).resolve().parents[2]


def simulate(url: str, stations: int, interval: float, work: Path) -> subprocess.Popen[bytes]:
    registry = work / "fleet.toml"
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "--log-level", "ERROR", "simulate", "--broker", url,
         "--stations", str(stations), "--sites", "2", "--interval", str(interval),
         "--faults", "0", "--registry-out", str(registry), "--workdir", str(work / "fleet")],
        cwd=REPO)
    wait_for(registry.exists, 30, what="the simulated fleet's registry")
    return proc


def measure(cluster: PlainNatsCluster, args: argparse.Namespace, work: Path) -> None:
    fleet = simulate(cluster.urls[0], args.stations, args.interval, work)
    try:
        registry = (work / "fleet.toml").read_text()
        collector = CollectorProcess(cluster.urls[1:], work / "collector", registry).start()
        try:
            names = list(collector.states())
            wait_for(lambda: collector.all_in(names, "online"), 60, what="fleet online")
            time.sleep(2 * args.interval)  # steady heartbeats before the kill, as in the field
            sampler, stale_at = StateSampler(), dict[str, float]()
            killed_at = time.monotonic()
            cluster.nodes[0].kill()
            while len(stale_at) < len(names) and time.monotonic() - killed_at < 6 * args.interval:
                states = collector.states()
                sampler.add(states)
                for name, state in states.items():
                    if state == "stale":
                        stale_at.setdefault(name, time.monotonic() - killed_at)
                time.sleep(0.2)  # the sampling period of the measurement
            report(sorted(stale_at.values()), len(names), sampler, args.interval)
        finally:
            collector.kill()
    finally:
        fleet.terminate()
        fleet.wait(30)


def report(times: list[float], count: int, sampler: StateSampler, interval: float) -> None:
    seen = sorted(set().union(*sampler.seen.values())) if sampler.seen else []
    print(f"{len(times)} of {count} stations stale after the node's kill -9 "
          f"(heartbeat {interval:g} s, stale after 3 x {interval:g} s of silence): "
          f"min {times[0]:.1f} s, p50 {statistics.median(times):.1f} s, max {times[-1]:.1f} s"
          if times else f"0 of {count} stations stale")
    print(f"states seen after the kill: {', '.join(seen)}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.nats_staleness")
    parser.add_argument("--stations", type=int, default=20)
    parser.add_argument("--interval", type=float, default=15.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pantau-staleness-") as tmp:
        cluster = PlainNatsCluster(Path(tmp) / "nats").start()
        try:
            measure(cluster, args, Path(tmp))
        finally:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
