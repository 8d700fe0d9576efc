"""Benchmark: API and page render times for a national-size fleet (prints figures).

Run: /tmp/venv/bin/python -m tests.collector.http.bench_http [--stations N] [--per-site K]
Not collected by pytest (no test_ prefix): speed belongs here, not in unit tests.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from types import MappingProxyType

from aiohttp.test_utils import TestClient, TestServer

from collector.fleet import Fleet
from collector.registry import Registry, SiteInfo, StationEntry
from tests.collector.http.conftest import make_app
from tests.collector.http.scenario import NOW, component, feed, heartbeat, kit

PATHS = ("/api/v1/stations", "/api/v1/sites", "/api/v1/parts", "/api/v1/parts?format=csv",
         "/", "/stations/site-0000-00")


def national_fleet(stations: int, per_site: int) -> Fleet:
    sites = {f"site-{i:04d}": SiteInfo(f"site-{i:04d}", f"Kecamatan {i}", f"Kota {i // 20}")
             for i in range(stations // per_site)}
    entries = {
        f"{site}-{j:02d}": StationEntry(f"{site}-{j:02d}", site, "ektp-enrollment", "active")
        for site in sites for j in range(per_site)
    }
    fleet = Fleet(Registry(MappingProxyType(sites), MappingProxyType(entries)), now=NOW - 60)
    for n, entry in enumerate(entries.values()):
        # One station in 20 misses its fingerprint scanner.
        parts = kit(fingerprint=component("fingerprint", "missing", NOW - 600)) if n % 20 == 0 \
            else kit()
        feed(fleet, "heartbeat", entry.site, entry.id,
             heartbeat(entry.site, entry.id, 1, NOW - 5, parts), NOW - 5)
    return fleet


async def measure(fleet: Fleet, rounds: int) -> None:
    # Raw bodies: the figures show what crosses a district link (gzip when accepted).
    async with TestClient(TestServer(make_app(fleet, None)), auto_decompress=False) as client:
        for path in PATHS:
            best, size = float("inf"), 0
            for _ in range(rounds):
                start = time.perf_counter()
                resp = await client.get(path)
                size = len(await resp.read())
                best = min(best, time.perf_counter() - start)
                assert resp.status == 200, path
            encoding = resp.headers.get("Content-Encoding", "identity")
            print(f"{path:32s} {best * 1000:8.1f} ms  {size / 1024:8.0f} KiB {encoding}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stations", type=int, default=10_000)
    parser.add_argument("--per-site", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    start = time.perf_counter()
    fleet = national_fleet(args.stations, args.per_site)
    print(f"fleet of {args.stations} stations built in {time.perf_counter() - start:.1f} s "
          f"(from {Path(__file__).name})")
    asyncio.run(measure(fleet, args.rounds))


if __name__ == "__main__":
    main()
