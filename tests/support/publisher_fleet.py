"""Lightweight stations on the agent's own MQTT code: many `Publisher`s in one process.

    python -m tests.support.publisher_fleet --broker URL [--broker URL ...] \\
        --stations 100 --first 0 --workdir DIR

Each station is agent.mqtt.publisher.Publisher with the shipped `[broker]`
defaults and the given broker list: connect, birth, Will, the jittered
backoff and the move to the next node are the agent's code, not a copy. What
a station lacks is what failover does not touch: probes, heartbeats, events.
Stations are `fo-00000` … in site `failover`; one process holds at most 100
(paho's loop thread watches its sockets with select(), which stops at file
descriptor 1024, and each station holds ~4 plus what a reconnect leaves for
the garbage collector). Prints "connected" once every station is, then runs
until SIGTERM or stdin closes.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

from agent.config import AgentConfig, QueueConfig
from agent.journal import EventJournal
from agent.mqtt.publisher import Publisher
from pantau.broker_config import parse_broker
from tests.support.mosquitto import wait_for

SITE = "failover"
MAX_PER_PROCESS = 100


def station_name(index: int) -> str:
    return f"fo-{index:05d}"


def make_publishers(urls: Sequence[str], names: Sequence[str], workdir: Path) -> list[Publisher]:
    # The shipped defaults: only the list of nodes is set, as a station's agent.toml would.
    broker = parse_broker({"urls": list(urls)}, "publisher_fleet", "the agent")
    workdir.mkdir(parents=True, exist_ok=True)
    publishers = []
    for name in names:
        config = AgentConfig(station=name, site=SITE, broker=broker,
                             queue=QueueConfig(path=workdir / f"{name}.sqlite3"))
        publishers.append(Publisher(config, str(uuid.uuid4()), EventJournal(config.queue)))
    return publishers


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.support.publisher_fleet")
    p.add_argument("--broker", action="append", required=True, help="a node URL; repeat")
    p.add_argument("--stations", type=int, default=MAX_PER_PROCESS)
    p.add_argument("--first", type=int, default=0, help="number of the first station")
    p.add_argument("--workdir", type=Path, required=True)
    args = p.parse_args(argv)
    if not 0 < args.stations <= MAX_PER_PROCESS:
        p.error(f"--stations: 1 to {MAX_PER_PROCESS} per process; run several processes")
    # Thousands of "lost the broker" lines: to a file, for a look when a station is late.
    args.workdir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=args.workdir / "fleet.log", level=logging.INFO,
                        format="%(asctime)s %(threadName)s %(message)s")
    names = [station_name(args.first + i) for i in range(args.stations)]
    publishers = make_publishers(args.broker, names, args.workdir)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())

    def until_stdin_closes() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=until_stdin_closes, daemon=True).start()
    for publisher in publishers:
        publisher.start()
    wait_for(lambda: all(pub.connected for pub in publishers) or done.is_set(), 300,
             interval=0.2, what="every station connected")
    print("connected", flush=True)
    done.wait()
    for publisher in publishers:
        publisher.stop(timeout=0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
