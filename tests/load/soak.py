"""Soak (`make soak`): N lite stations + a real agent process, random faults, RSS over time.

    python -m tests.load.soak --stations 2000 --minutes 30
    python -m tests.load.soak --stations 500 --minutes 5      # the shortened run

Faults, at random: each lite station drops its link without DISCONNECT
(mean every --drop-every s; its Will fires, it reconnects with the real
backoff), sends component events (mean every --event-every s), and the broker
is restarted every --broker-restart-every s. The agent process is
`pantau-agent simulate` (real AgentService stations with simulated USB and
its own fault injector). RSS of the collector and the agent is sampled every
30 s; growth is reported from the first sample after --warmup s to the end,
and at the end every lite station must be online at the collector again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.load.central import REPO, Central, rss_kib
from tests.load.lite_fleet import FleetSettings, LiteStation, make_fleet, start_fleet, stop_fleet
from tests.load.storm import until

SAMPLE_S = 30.0


def start_agent(central: Central, minutes: float, workdir: Path) -> subprocess.Popen[bytes]:
    log = open(workdir / "agent.log", "ab")  # noqa: SIM115 - owned by the process
    return subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "--log-level", "WARNING", "simulate",
         "--broker", central.broker.url, "--stations", "10", "--sites", "2", "--faults", "0.05",
         "--seed", "5", "--interval", "15", "--duration", str(int(minutes * 60 + 120))],
        cwd=REPO, stdout=log, stderr=log)


async def sample_rss(pids: dict[str, int], samples: dict[str, list[tuple[float, int]]],
                     stop: asyncio.Event, t0: float) -> None:
    while not stop.is_set():
        for name, pid in pids.items():
            samples[name].append((time.monotonic() - t0, rss_kib(pid)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SAMPLE_S)


async def broker_faults(central: Central, every_s: float, stop: asyncio.Event) -> int:
    restarts = 0
    while every_s > 0:
        try:
            await asyncio.wait_for(stop.wait(), every_s)
            return restarts
        except TimeoutError:
            await asyncio.to_thread(central.broker.restart)
            restarts += 1
    return restarts


async def soak(args: argparse.Namespace, workdir: Path) -> int:
    central = await asyncio.to_thread(Central(workdir).start)
    agent = start_agent(central, args.minutes, workdir)
    settings = FleetSettings("127.0.0.1", central.broker.port, heartbeat_s=15.0,
                             event_every_s=args.event_every, drop_every_s=args.drop_every)
    fleet, stop, done = make_fleet(args.stations, settings, args.seed), asyncio.Event(), \
        asyncio.Event()
    assert central.collector is not None
    samples: dict[str, list[tuple[float, int]]] = {"collector": [], "agent": []}
    t0 = time.monotonic()
    tasks = await start_fleet(fleet, stop, ramp_s=30.0)
    sampler = asyncio.ensure_future(sample_rss(
        {"collector": central.collector.pid, "agent": agent.pid}, samples, done, t0))
    faults = asyncio.ensure_future(broker_faults(central, args.broker_restart_every, done))
    try:
        await asyncio.sleep(args.minutes * 60)  # the soak itself: run for the set time
        done.set()
        restarts = await faults
        for st in fleet:
            st.faults = False
        names = {st.station for st in fleet}
        wall = time.time() - settings.heartbeat_s * 2
        try:
            lag = await until(lambda: names <= central.fresh_online(wall), 300, "all back online")
        except TimeoutError:
            show_missing(central, names, wall, fleet)
            raise
        return report(args, samples, fleet, restarts, lag, central)
    finally:
        done.set()
        await sampler
        await stop_fleet(fleet, stop, tasks)
        agent.terminate()
        agent.wait(30)
        await asyncio.to_thread(central.stop)


def show_missing(central: Central, names: set[str], wall: float, fleet: list[LiteStation]) -> None:
    views = {str(v["station"]): v for v in central.stations()}
    conns = {st.station: (len(st.connects), st.conn is not None, st.delays[-3:]) for st in fleet}
    for name in sorted(names - central.fresh_online(wall))[:20]:
        view = views.get(name, {})
        print("not back:", name, view.get("state"), view.get("last_heartbeat_ts"), wall,
              conns[name])


def report(args: argparse.Namespace, samples: dict[str, list[tuple[float, int]]],
           fleet: list[LiteStation], restarts: int, lag: float, central: Central) -> int:
    print(f"soak: {args.stations} lite stations + 10 agent-simulated stations, "
          f"{args.minutes:g} min, {restarts} broker restarts, "
          f"{sum(len(st.connects) - 1 for st in fleet)} station reconnects")
    for name, series in samples.items():
        after = [kib for t, kib in series if t >= args.warmup] or [series[-1][1]]
        print(f"{name:9s} RSS: start {series[0][1] / 1024:.1f} MiB, after warm-up "
              f"{after[0] / 1024:.1f} MiB, end {after[-1] / 1024:.1f} MiB, max "
              f"{max(k for _, k in series) / 1024:.1f} MiB, growth after warm-up "
              f"{(after[-1] - after[0]) / 1024:+.1f} MiB")
    counts = [ln for ln in central.metrics().splitlines()
              if ln.startswith("pantau_collector_messages_total")]
    print("collector:", counts)
    print(f"every lite station online again {lag:.1f} s after the end")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--stations", type=int, default=2000)
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--warmup", type=float, default=120.0, help="seconds before growth counts")
    p.add_argument("--drop-every", type=float, default=600.0)
    p.add_argument("--event-every", type=float, default=120.0)
    p.add_argument("--broker-restart-every", type=float, default=600.0)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pantau-soak-") as tmp:
        return asyncio.run(soak(args, Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
