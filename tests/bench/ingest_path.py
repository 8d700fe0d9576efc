"""The collector's ingest path in-process, two source trees side by side: prints, asserts nothing.

    .venv/bin/python -m tests.bench.ingest_path --trees /work/main . [--stations 10000]
        [--rounds 10] [--repeat 7]

Why this besides tests/bench/collector.py: that bench drains a real broker and
is the figure to quote, but on a shared 2-core machine its rate swings by 2x
between runs, so it cannot show a 5 % difference. This one times only the
CPU the collector spends per heartbeat — `Dispatcher.handle` (decode, fleet
state, counters) plus, where the tree has it, its share of the asset feed's
step and commit, which the app runs once a second whatever the rate (timed
apart, added as a 40,000-heartbeat second's share) — with
`time.process_time` (every thread: the asset store's commits included) and the
app's garbage-collector thresholds, for each tree in a child process
(PYTHONPATH = that tree), interleaved; best and median of `--repeat`. Same
heartbeats as the collector bench (~1.4 KB, 5 components); round 1 (every
station new) is warm-up, digested and committed before rounds 2..N are timed,
and one heartbeat in 1,000 changes a component (a part unplugged or back), so
the register and repair tracker have work as in a real fleet. Beside it, the
same heartbeats through `wire.decode_message` alone (the wire contract's cost).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

STEP_EVERY = 40_000  # heartbeats per simulated second at the collector bench's drain rate


def child(stations: int, rounds: int) -> dict[str, Any]:
    from collector.app import INGEST_GC_THRESHOLD
    from collector.dispatch import Dispatcher
    from collector.fleet import Fleet
    from collector.history import History
    from collector.registry import Registry
    from collector.stats import IngestStats
    from collector.store import Store
    from pantau import wire
    from tests.bench.collector import heartbeat

    try:
        from collector.asset_feed import AssetFeed
        from collector.store_assets import AssetStore
    except ImportError:
        AssetFeed = None  # the tree before the asset register

    gc.set_threshold(*INGEST_GC_THRESHOLD)  # as the app sets it while ingesting
    fleet = Fleet(Registry.empty(), now=0.0)
    dispatcher = Dispatcher(fleet, IngestStats(), History(Store(Path("/nonexistent"))), "pantau")
    feed = None
    if AssetFeed is not None:
        store = AssetStore(Path(tempfile.mkdtemp(prefix="pantau-bench-ingest-")))
        asyncio.run(store.open())
        feed = AssetFeed(store, 120.0)

    def upkeep(now: float) -> None:  # the app's tick, then the commit (on its own thread)
        assert feed is not None
        feed.step(fleet, now, ready=True)
        asyncio.run(feed.flush())

    messages = [[heartbeat(i, seq, 1.7e9 + seq) for i in range(stations)]  # a real clock
                for seq in range(1, rounds + 1)]
    for topic, payload in messages[0]:  # warm-up: every station new, digested in full
        dispatcher.handle(topic, payload, 1.0)
    while feed is not None and (feed.backlog or not handled_once(feed)):
        upkeep(1.0)
    changed = _with_changes(messages[1:], wire)
    spent, handled, upkeeps = 0.0, 0, []
    for batch in changed:  # a round = a simulated second of STEP_EVERY heartbeats at most
        began = time.process_time()
        for topic, payload in batch:
            dispatcher.handle(topic, payload, 2.0)
        spent += time.process_time() - began
        handled += len(batch)
        if feed is not None:
            began = time.process_time()
            upkeep(2.0 + handled / STEP_EVERY)
            upkeeps.append(time.process_time() - began)
    dispatch_us = spent / handled * 1e6
    upkeep_ms = statistics.median(upkeeps) * 1000 if upkeeps else 0.0
    return {"heartbeats": handled, "dispatch_us": dispatch_us, "upkeep_ms": upkeep_ms,
            "us_per_heartbeat": dispatch_us + upkeep_ms * 1000 / STEP_EVERY,
            "asset_feed": feed is not None, "decode_us": decode_us(changed, wire)}


def decode_us(rounds: list[list[tuple[str, bytes]]], wire: Any) -> float:
    """`wire.decode_message` alone: the contract's share of the dispatch figure."""
    began, count = time.process_time(), 0
    for batch in rounds:
        for topic, payload in batch:
            wire.decode_message(topic, payload)
        count += len(batch)
    return (time.process_time() - began) / count * 1e6


def handled_once(feed: Any) -> bool:
    """The first step has run (its full readiness pass is warm-up, not steady state)."""
    return feed.pending == 0 and feed.readiness_committed > 0


def _with_changes(rounds: list[list[tuple[str, bytes]]], wire: Any
                  ) -> list[list[tuple[str, bytes]]]:
    """One heartbeat in 1,000 with its first component missing (then back the round after)."""
    from msgspec.structs import replace

    out = []
    for r, batch in enumerate(rounds):
        edited = []
        for i, (topic, payload) in enumerate(batch):
            if (i + r) % 1000 == 0:
                hb = wire.decode("heartbeat", payload)
                gone = replace(hb.components[0], status="missing", since=hb.ts, device=None)
                payload = wire.encode(replace(hb, components=[gone, *hb.components[1:]]))
            edited.append((topic, payload))
        out.append(edited)
    return out


def run_tree(tree: Path, stations: int, rounds: int) -> dict[str, Any]:
    # The tree's own modules (cwd first on sys.path), this file's `child` loaded by path.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    code = ("import importlib.util, json; "
            f"spec = importlib.util.spec_from_file_location('ingest_path', {str(__file__)!r}); "
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
            f"print(json.dumps(m.child({stations}, {rounds})))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, capture_output=True,
                          text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trees", type=Path, nargs=2, required=True, help="before after")
    parser.add_argument("--stations", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    runs: dict[Path, list[float]] = {tree: [] for tree in args.trees}
    decodes: dict[Path, list[float]] = {tree: [] for tree in args.trees}
    for n in range(args.repeat):
        for tree in args.trees:
            row = run_tree(tree.resolve(), args.stations, args.rounds)
            runs[tree].append(row["us_per_heartbeat"])
            decodes[tree].append(row["decode_us"])
            print(f"run {n + 1} {tree}: {row['us_per_heartbeat']:.2f} us/heartbeat = "
                  f"{row['dispatch_us']:.2f} dispatch + {row['upkeep_ms']:.1f} ms upkeep a "
                  f"second / {STEP_EVERY} ({row['heartbeats']} heartbeats, asset feed: "
                  f"{row['asset_feed']}; decode alone {row['decode_us']:.2f} us; "
                  f"load {os.getloadavg()[0]:.1f})", flush=True)
    for name, pick in (("best", min), ("median", statistics.median)):
        before, after = (pick(runs[t]) for t in args.trees)
        print(f"{name} of {args.repeat}: before {before:.2f} us/heartbeat, after {after:.2f} "
              f"us/heartbeat: after/before = {after / before:.3f} (goal <= 1.05)")
        before, after = (pick(decodes[t]) for t in args.trees)
        print(f"  decode alone: before {before:.2f} us, after {after:.2f} us a heartbeat")


if __name__ == "__main__":
    main()
