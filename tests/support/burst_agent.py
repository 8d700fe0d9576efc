"""One simulated station in its own process, making events, so a test can SIGKILL it.

    python -m tests.support.burst_agent --broker URL --workdir DIR --site S --station N
        [--toggles K]   stop toggling after K toggles (5 events each); 0 = until killed

It runs the same `FaultStation` as the in-process fault tests (a real
AgentService over a simulated kit, queue in DIR/queue.sqlite3) and writes its
progress to DIR/progress.log: `boot <boot_id>` first, then `events <n>` after
each toggle the agent has seen. A SIGKILL can land between the agent showing
an observation and journalling its events, so after a kill the committed
count is the highest seq in the queue file or the store, and it must reach
the next-to-last logged count (see tests/faults/test_agent_faults.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from tests.support.fleet_harness import FaultStation


def parse_progress(path: Path) -> tuple[str, list[int]]:
    """(boot_id, event counts logged after each toggle) from a progress file.

    The agent shows an observation before it journals that poll's events, so
    only the next-to-last count is known to be on disk; the last may not be."""
    boot, counts = "", [0]
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == "boot":
            boot = value
        elif key == "events" and value.isdigit():
            counts.append(int(value))
    return boot, counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="burst_agent")
    p.add_argument("--broker", required=True)
    p.add_argument("--workdir", type=Path, required=True)
    p.add_argument("--site", required=True)
    p.add_argument("--station", required=True)
    p.add_argument("--toggles", type=int, default=0)
    args = p.parse_args(argv)
    logging.basicConfig(level="INFO", stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    station = FaultStation(args.site, args.station, args.broker, args.workdir)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    station.start()
    with open(args.workdir / "progress.log", "w", buffering=1) as progress:
        progress.write(f"boot {station.boot_id}\n")
        done = 0
        while not stop.is_set() and (args.toggles == 0 or done < args.toggles):
            station.toggle()
            done += 1
            progress.write(f"events {station.committed[station.boot_id]}\n")
            os.fsync(progress.fileno())
        progress.write("done\n")
    stop.wait()
    station.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
