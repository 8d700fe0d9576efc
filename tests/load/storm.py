"""Reconnect storm: N stations, a broker restart, how the reconnects spread out.

    python -m tests.load.storm --stations 5000                 # the agent's defaults
    python -m tests.load.storm --stations 5000 --min 30 --max 120

Stations (tests/load/lite_fleet.py) use the agent's real Backoff and reset
rule. After every station has been connected long enough for the agent to
reset its backoff, Mosquitto is restarted (SIGTERM, start again); the script
prints the reconnect times per 5 s bucket, the spread, and how long until
the collector shows every station online with a heartbeat sent after the
restart. Exit 1 if the spread (p1..p99) is under --want-spread seconds or a
station never comes back.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from tests.load.central import Central
from tests.load.lite_fleet import (
    FleetSettings,
    LiteStation,
    make_fleet,
    start_fleet,
    stop_fleet,
)


async def until(predicate: object, timeout: float, what: str, every: float = 0.5) -> float:
    """Await a (blocking, run in a thread) predicate; returns the seconds it took."""
    start = time.monotonic()
    while not await asyncio.to_thread(predicate):  # type: ignore[arg-type]
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        await asyncio.sleep(every)
    return time.monotonic() - start


def histogram(offsets: list[float], bucket_s: float = 5.0) -> list[str]:
    counts: dict[int, int] = {}
    for t in offsets:
        counts[int(t // bucket_s)] = counts.get(int(t // bucket_s), 0) + 1
    top = max(counts.values())
    return [f"{b * bucket_s:6.0f}-{(b + 1) * bucket_s:<4.0f}s {counts.get(b, 0):6d} "
            + "#" * round(50 * counts.get(b, 0) / top) for b in range(max(counts) + 1)]


def spread(offsets: list[float]) -> tuple[float, float]:
    """(p99 - p1, max - min) of the reconnect times."""
    s = sorted(offsets)

    def pick(q: float) -> float:
        return s[min(len(s) - 1, int(q * len(s)))]

    return pick(0.99) - pick(0.01), s[-1] - s[0]


async def restart_and_measure(central: Central, fleet: list[LiteStation],
                              down_s: float, timeout: float) -> tuple[list[float], float]:
    """Restart the broker; reconnect offsets (s after the restart began) and collector lag."""
    before = {st.station: len(st.connects) for st in fleet}
    wall, t0 = time.time(), time.monotonic()
    await asyncio.to_thread(central.broker.stop)
    await asyncio.sleep(down_s)  # the scenario: how long the broker stays down
    await asyncio.to_thread(central.broker.start)
    await until(lambda: all(len(st.connects) > before[st.station] for st in fleet), timeout,
                "every station reconnected")
    offsets = [st.connects[before[st.station]] - t0 for st in fleet]
    names = {st.station for st in fleet}
    lag = await until(lambda: names <= central.fresh_online(wall), timeout,
                      "collector shows every station online again")
    return offsets, lag


async def storm(args: argparse.Namespace, workdir: Path) -> int:
    central = await asyncio.to_thread(Central(workdir).start)
    settings = FleetSettings("127.0.0.1", central.broker.port, args.min, args.max,
                             keepalive_s=30.0, heartbeat_s=args.heartbeat)
    fleet, stop = make_fleet(args.stations, settings, args.seed), asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    try:
        tasks += await start_fleet(fleet, stop, ramp_s=args.ramp)
        names = {st.station for st in fleet}
        took = await until(lambda: names <= central.fresh_online(0.0), 300, "all online")
        print(f"{len(fleet)} stations online at the collector {took:.0f} s after the ramp")
        stable = max(args.max, settings.keepalive_s) + 1
        await until(lambda: all(time.monotonic() - st.connects[-1] >= stable for st in fleet),
                    stable + 60, "connections stable long enough to reset the backoff")
        offsets, lag = await restart_and_measure(central, fleet, args.down, args.timeout)
        return report(offsets, lag, args, central)
    finally:
        await stop_fleet(fleet, stop, tasks)
        await asyncio.to_thread(central.stop)


def report(offsets: list[float], lag: float, args: argparse.Namespace, central: Central) -> int:
    robust, full = spread(offsets)
    print(f"backoff reconnect_min_s={args.min:g} reconnect_max_s={args.max:g}, "
          f"broker down {args.down:g} s; reconnect time after the restart, per 5 s:")
    print("\n".join(histogram(offsets)))
    print(f"spread p1..p99 {robust:.1f} s, first..last {full:.1f} s; collector had every "
          f"station online again {lag:.1f} s after the last station reconnected")
    rejected = [ln for ln in central.metrics().splitlines()
                if ln.startswith("pantau_collector_rejected_messages_total{")
                and not ln.endswith(" 0")]
    print("collector rejections (non-zero):", rejected or "none")
    if robust < args.want_spread:
        print(f"FAIL: spread {robust:.1f} s < {args.want_spread:g} s")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--stations", type=int, default=5000)
    p.add_argument("--min", type=float, default=1.0, help="agent reconnect_min_s")
    p.add_argument("--max", type=float, default=60.0, help="agent reconnect_max_s")
    p.add_argument("--down", type=float, default=0.0, help="seconds the broker stays down")
    p.add_argument("--ramp", type=float, default=20.0, help="seconds to start all stations")
    p.add_argument("--heartbeat", type=float, default=15.0)
    p.add_argument("--want-spread", type=float, default=30.0)
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pantau-storm-") as tmp:
        return asyncio.run(storm(args, Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
