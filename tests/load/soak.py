"""Soak (`make soak`): N lite stations + a real agent process, random faults, RSS over time.

    python -m tests.load.soak --stations 2000 --minutes 30
    python -m tests.load.soak --stations 500 --minutes 5      # the shortened run

Faults, at random: each lite station drops its link without DISCONNECT
(mean every --drop-every s; its Will fires, it reconnects with the real
backoff), sends component events (mean every --event-every s) that it keeps
until the collector acks them, sending each with `oldest_pending` and again
after a reconnect (tests/load/lite_fleet.py), and the broker is restarted
every --broker-restart-every s. The agent process is `pantau-agent simulate`
(real AgentService stations with simulated USB and its own fault injector).
RSS of the collector and the agent is sampled every --sample-every s.

It fails (exit 1, and says why) unless, at the end, every lite station is
online at the collector again, every event a lite station still holds is
acked, none was dropped, and neither process grew by more than its ceiling
from its first sample after --warmup s (--collector-growth-mib,
--agent-growth-mib). The collector keeps no events in memory (a station's
recent ones are read from its history store), only each boot's ack mark.
tests/load/test_soak_short.py runs a short one in `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.load.central import REPO, Central, rss_kib
from tests.load.lite_fleet import FleetSettings, LiteStation, make_fleet, start_fleet, stop_fleet
from tests.load.storm import until

Samples = dict[str, list[tuple[float, int]]]  # process -> (seconds since start, RSS KiB)


@dataclass
class SoakResult:
    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    growth_mib: dict[str, float] = field(default_factory=dict)
    events: int = 0
    acks: int = 0

def start_agent(central: Central, minutes: float, workdir: Path) -> subprocess.Popen[bytes]:
    log = open(workdir / "agent.log", "ab")  # noqa: SIM115 - owned by the process
    return subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "--log-level", "WARNING", "simulate",
         "--broker", central.broker.url, "--stations", "10", "--sites", "2", "--faults", "0.05",
         "--seed", "5", "--interval", "15", "--duration", str(int(minutes * 60 + 120))],
        cwd=REPO, stdout=log, stderr=log)


async def sample_rss(pids: dict[str, int], samples: Samples, stop: asyncio.Event, t0: float,
                     every_s: float) -> None:
    while not stop.is_set():
        for name, pid in pids.items():
            samples[name].append((time.monotonic() - t0, rss_kib(pid)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)


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


async def soak(args: argparse.Namespace, workdir: Path) -> SoakResult:
    central = await asyncio.to_thread(Central(workdir).start)
    agent = start_agent(central, args.minutes, workdir)
    settings = FleetSettings("127.0.0.1", central.broker.port, heartbeat_s=15.0,
                             event_every_s=args.event_every, drop_every_s=args.drop_every)
    fleet, stop, done = make_fleet(args.stations, settings, args.seed), asyncio.Event(), \
        asyncio.Event()
    assert central.collector is not None
    samples: Samples = {"collector": [], "agent": []}
    t0 = time.monotonic()
    tasks = await start_fleet(fleet, stop, ramp_s=args.ramp)
    sampler = asyncio.ensure_future(sample_rss(
        {"collector": central.collector.pid, "agent": agent.pid}, samples, done, t0,
        args.sample_every))
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
        acked = await settled_acks(fleet, 2 * settings.ack_timeout_s + 30)
        return report(args, samples, fleet, (restarts, lag, acked), central)
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


async def settled_acks(fleet: list[LiteStation], timeout: float) -> float | None:
    """Seconds until no lite station holds an unacked event (None: some still do)."""
    try:
        return await until(lambda: not any(st.unacked for st in fleet), timeout, "all acked")
    except TimeoutError:
        return None


def report(args: argparse.Namespace, samples: Samples, fleet: list[LiteStation],
           end: tuple[int, float, float | None], central: Central) -> SoakResult:
    restarts, lag, acked = end
    out = SoakResult(events=sum(st.ev_seq for st in fleet), acks=sum(st.acks for st in fleet))
    out.lines.append(
        f"soak: {args.stations} lite stations + 10 agent-simulated stations, "
        f"{args.minutes:g} min, {restarts} broker restarts, "
        f"{sum(len(st.connects) - 1 for st in fleet)} station reconnects")
    ceilings = {"collector": args.collector_growth_mib, "agent": args.agent_growth_mib}
    for name, series in samples.items():
        after = [kib for t, kib in series if t >= args.warmup] or [series[-1][1]]
        growth = out.growth_mib[name] = (max(after) - after[0]) / 1024
        out.lines.append(
            f"{name:9s} RSS: start {series[0][1] / 1024:.1f} MiB, after warm-up "
            f"{after[0] / 1024:.1f} MiB, end {after[-1] / 1024:.1f} MiB, max "
            f"{max(k for _, k in series) / 1024:.1f} MiB, growth after warm-up "
            f"{growth:+.1f} MiB (ceiling {ceilings[name]:g} MiB)")
        if growth > ceilings[name]:
            out.failures.append(f"{name} RSS grew {growth:.1f} MiB after warm-up, "
                                f"over its {ceilings[name]:g} MiB ceiling")
    unacked, dropped = sum(len(st.unacked) for st in fleet), sum(st.dropped for st in fleet)
    out.lines.append(f"events: {out.events} made by lite stations, {out.acks} acks received, "
                     f"{unacked} still unacked, {dropped} dropped unacked"
                     + (f"; all acked {acked:.1f} s after the fleet was back" if acked else ""))
    if unacked or dropped:
        out.failures.append(f"{unacked} events never acked, {dropped} dropped")
    counts = [ln for ln in central.metrics().splitlines()
              if ln.startswith("pantau_collector_messages_total")
              or ln.startswith('pantau_collector_rejected_messages_total{reason="duplicate"}')]
    out.lines.append(f"collector: {counts}")
    out.lines.append(f"every lite station online again {lag:.1f} s after the end")
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--stations", type=int, default=2000)
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--warmup", type=float, default=120.0, help="seconds before growth counts")
    p.add_argument("--drop-every", type=float, default=600.0)
    p.add_argument("--event-every", type=float, default=120.0)
    p.add_argument("--broker-restart-every", type=float, default=600.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ramp", type=float, default=30.0, help="seconds to start the lite fleet")
    p.add_argument("--sample-every", type=float, default=30.0, help="seconds between RSS samples")
    p.add_argument("--collector-growth-mib", type=float, default=16.0,
                   help="RSS ceiling: most the collector may grow after warm-up")
    p.add_argument("--agent-growth-mib", type=float, default=4.0,
                   help="RSS ceiling: most the agent process may grow after warm-up")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pantau-soak-") as tmp:
        result = asyncio.run(soak(args, Path(tmp)))
    print("\n".join(result.lines))
    for failure in result.failures:
        print("FAILED:", failure)
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
