"""The collector's ingest path in-process, two source trees side by side: prints, asserts nothing.

    .venv/bin/python -m tests.bench.ingest_path --trees /work/main . [--stations 10000]
        [--rounds 10] [--repeat 7]

Why this besides tests/bench/collector.py: that bench drains a real broker and
is the figure to quote, but on a shared 2-core machine its rate swings by 2x
between runs, so it cannot show a 5 % difference. This one times only the
CPU the collector spends per heartbeat on its own thread — `Dispatcher.handle`
(decode, fleet state, counters) plus, where the tree has it, the asset feed's
step once per simulated second, as the app's tick runs it — with
`time.process_time`, for each tree in a child process (PYTHONPATH = that
tree), interleaved, best of `--repeat`. Same heartbeats as the collector bench
(~1.4 KB, 5 components); round 1 (every station new) is warm-up, rounds 2..N
are timed, and one heartbeat in 1,000 changes a component (a part unplugged
or back), so the register and repair tracker have work as in a real fleet.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

STEP_EVERY = 40_000  # heartbeats per simulated second at the collector bench's drain rate


def child(stations: int, rounds: int) -> dict[str, Any]:
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

    fleet = Fleet(Registry.empty(), now=0.0)
    dispatcher = Dispatcher(fleet, IngestStats(), History(Store(Path("/nonexistent"))), "pantau")
    feed = AssetFeed(AssetStore(Path("/nonexistent")), 120.0) if AssetFeed else None
    messages = [[heartbeat(i, seq, float(seq)) for i in range(stations)]
                for seq in range(1, rounds + 1)]
    for topic, payload in messages[0]:  # warm-up: every station new
        dispatcher.handle(topic, payload, 1.0)
    if feed is not None:
        feed.step(fleet, 1.0, ready=True)
    changed = _with_changes(messages[1:], wire)
    spent, handled = 0.0, 0
    for batch in changed:
        began = time.process_time()
        for topic, payload in batch:
            dispatcher.handle(topic, payload, 2.0)
            handled += 1
            if feed is not None and handled % STEP_EVERY == 0:
                feed.step(fleet, 2.0 + handled / STEP_EVERY, ready=True)
        if feed is not None:
            feed.step(fleet, 3.0 + handled / STEP_EVERY, ready=True)
        spent += time.process_time() - began
    return {"heartbeats": handled, "cpu_s": spent, "us_per_heartbeat": spent / handled * 1e6,
            "asset_feed": feed is not None}


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
    best: dict[Path, float] = {}
    for n in range(args.repeat):
        for tree in args.trees:
            row = run_tree(tree.resolve(), args.stations, args.rounds)
            best[tree] = min(best.get(tree, float("inf")), row["us_per_heartbeat"])
            print(f"run {n + 1} {tree}: {row['us_per_heartbeat']:.2f} us/heartbeat "
                  f"({row['heartbeats']} heartbeats, asset feed: {row['asset_feed']}; "
                  f"load {os.getloadavg()[0]:.1f})", flush=True)
    before, after = (best[t] for t in args.trees)
    print(f"\nbest of {args.repeat}: before {before:.2f} us/heartbeat, after {after:.2f} "
          f"us/heartbeat: after/before = {after / before:.3f} (goal <= 1.05)")


if __name__ == "__main__":
    main()
