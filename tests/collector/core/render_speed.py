"""How long /metrics takes for a national-size fleet (a benchmark, not a test).

    PYTHONPATH=. python tests/collector/core/render_speed.py [--stations 10000]

Prints milliseconds for: a cold render (empty cache), a warm render after a
round of heartbeats in which every station's timestamp and host figures moved
but its components stayed the same (the steady state between two scrapes),
and an unchanged fleet. Two station shapes: a lean one (one component, no
host block: ~18 series) and the full e-KTP kit (6 components, 2 checks, host
with 2 disks: ~62 series).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable

from collector.exposition import MetricsRenderer
from collector.fleet import Fleet
from collector.registry import Registry
from collector.stats import IngestStats
from pantau import wire

KIT = ("fingerprint", "iris", "camera", "signature", "card-reader", "display")


def make_heartbeat(i: int, seq: int, *, full: bool) -> wire.Heartbeat:
    comps = [
        wire.Component(id=c, kind="usb", required=True, status="ok", since=1.7e9)
        for c in (KIT if full else KIT[:1])
    ]
    checks = [wire.Check(id=c, kind="tcp", status="ok", latency_s=0.012 + seq * 1e-4)
              for c in ("enrollment-server", "dns")] if full else []
    host = wire.Host(
        hostname=f"pc-{i}", boot_time=1.7e9, cpu_ratio=(seq % 100) / 100, load1=0.3,
        memory_used_ratio=0.5, swap_used_ratio=0.0, temperature_c=50.0 + seq % 7,
        disks=[wire.Disk(mount=m, used_ratio=0.5, free_bytes=10**10 + seq)
               for m in ("/", "/data")],
    ) if full else None
    return wire.Heartbeat(
        v=1, site=f"site-{i % 700:03d}", station=f"st-{i:05d}", seq=seq, boot_id="b",
        ts=1.7e9 + seq * 15, interval_s=15.0,
        agent=wire.AgentInfo(version="0.1.0", uptime_s=1.0), host=host,
        components=comps, checks=checks, unexpected=[],
    )


def timed(label: str, fn: Callable[[], bytes], repeat: int) -> bytes:
    """Best and median of `repeat` runs: the machine is shared, the best is the code."""
    took: list[float] = []
    out = b""
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        out = fn()
        took.append((time.perf_counter() - start) * 1000)
    print(f"  {label:<34} best {min(took):7.1f} ms   median {statistics.median(took):7.1f} ms")
    return out


def run(stations: int, *, full: bool, repeat: int) -> None:
    fleet = Fleet(Registry.empty(), now=0.0)
    stats = IngestStats()
    rounds = iter(range(1, 10**6))
    print(f"{stations} stations, {'full kit' if full else 'lean'}:")

    def heartbeat_round() -> None:
        seq = next(rounds)
        for i in range(stations):
            fleet.apply_heartbeat(make_heartbeat(i, seq, full=full), 1.0 + seq * 15)

    heartbeat_round()
    out = timed("cold (empty cache)", lambda: MetricsRenderer("b").render(fleet, stats, None),
                repeat)
    renderer = MetricsRenderer("bench")
    renderer.render(fleet, stats, None)

    took: list[float] = []
    for _ in range(repeat):
        heartbeat_round()  # not timed: the clock starts below
        gc.collect()
        start = time.perf_counter()
        renderer.render(fleet, stats, None)
        took.append((time.perf_counter() - start) * 1000)
    print(f"  {'warm (every station heartbeated)':<34} best {min(took):7.1f} ms   "
          f"median {statistics.median(took):7.1f} ms")
    timed("warm (nothing changed)", lambda: renderer.render(fleet, stats, None), repeat)
    series = sum(1 for line in out.splitlines() if not line.startswith(b"#"))
    print(f"  {series} series, {len(out) / 1e6:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stations", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    run(args.stations, full=False, repeat=args.repeat)
    run(args.stations, full=True, repeat=args.repeat)


if __name__ == "__main__":
    main()
