"""The station's agent is killed mid-burst, or finds its queue file corrupt.

Promises: the Last Will (`lost`) reaches the collector within 1.5 x keepalive
+ 7 s even when the station dies without a word (power cut: the link goes
silent, no FIN); after the restart (new boot_id) the queue replays the old
boot's unacked events, so every event of both boots is stored exactly once; a
corrupt queue file is set aside and reported, and the agent runs on — no
crash loop.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from pantau import wire
from tests.agent.service.mqtt_watch import Watch
from tests.faults.checks import assert_exact
from tests.faults.conftest import Rig
from tests.support.burst_agent import parse_progress
from tests.support.collector_process import REPO
from tests.support.fleet_harness import KEEPALIVE_S, compare, fault_config
from tests.support.mosquitto import wait_for

pytestmark = pytest.mark.broker
WILL_BOUND_S = 1.5 * KEEPALIVE_S + 7


def spawn(args: list[str], workdir: Path, env: dict[str, str] | None = None,
          name: str = "agent") -> subprocess.Popen[bytes]:
    workdir.mkdir(parents=True, exist_ok=True)
    log = open(workdir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
    return subprocess.Popen([sys.executable, "-m", *args], cwd=REPO, stdout=log,
                            stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})


def burst(url: str, workdir: Path, site: str, station: str, toggles: int) -> list[str]:
    return ["tests.support.burst_agent", "--broker", url, "--workdir", str(workdir),
            "--site", site, "--station", station, "--toggles", str(toggles)]


def queued_seqs(queue: Path, boot_id: str) -> list[int]:
    with closing(sqlite3.connect(f"file:{queue}?mode=ro", uri=True)) as db:
        return [int(r[0]) for r in db.execute("SELECT seq FROM events WHERE boot_id = ?",
                                              (boot_id,))]


def lost_after(watch: Watch, site: str, station: str, boot_id: str) -> bool:
    return any(s.state == "lost" and s.boot_id == boot_id
               for s in watch.statuses(site, station))


@pytest.mark.slow
def test_agent_sigkill_mid_burst_will_and_replay(rig_factory: Callable[..., Rig]) -> None:
    rig = rig_factory(1, proxy=True)
    assert rig.proxy is not None
    site, name = rig.stations[0].site, rig.stations[0].name
    workdir = rig.stations[0].config.queue.path.parent
    watch = Watch(rig.broker, [wire.topic_for(site, name, "status")])
    first = spawn(burst(rig.proxy.url, workdir, site, name, 0), workdir)
    progress = workdir / "progress.log"
    wait_for(lambda: progress.exists() and parse_progress(progress)[1][-1] >= 30, 60,
             what="first boot making events")
    boot1 = parse_progress(progress)[0]
    # Power cut: the link goes silent first, then the process dies without a word.
    rig.proxy.blackhole()
    silent = time.monotonic()
    logged = parse_progress(progress)[1][-1]
    wait_for(lambda: parse_progress(progress)[1][-1] >= logged + 10, 20,
             what="events while cut off")
    first.kill()
    first.wait(10)
    wait_for(lambda: lost_after(watch, site, name, boot1), WILL_BOUND_S + 10, interval=0.05,
             what="the Last Will")
    will_s = time.monotonic() - silent
    # Committed = journalled: what is still queued, or stored (acked) before the kill.
    queued = queued_seqs(workdir / "queue.sqlite3", boot1)
    stored = [seq for st, boot, seq in rig.collector.stored_events() if boot == boot1]
    n1, unacked = max(queued + stored), len(queued)
    durable = parse_progress(progress)[1][-2]  # journalled for sure (see burst_agent)
    assert n1 >= durable, f"events 1..{durable} were journalled, only {n1} found"
    wait_for(lambda: rig.collector.states().get(name) == "lost", 15, what="collector shows lost")
    rig.proxy.pass_through()
    second = spawn(burst(rig.proxy.url, workdir, site, name, 4), workdir)
    try:
        wait_for(lambda: "done" in progress.read_text(), 60, what="second boot's 4 toggles")
        boot2 = parse_progress(progress)[0]
        expected = {(name, boot1, s) for s in range(1, n1 + 1)}
        expected |= {(name, boot2, s) for s in range(1, 21)}
        try:
            wait_for(lambda: expected <= set(rig.collector.stored_events()), 45,
                     what="both boots' events stored")
        finally:
            missing = expected - set(rig.collector.stored_events())
            print(f"\n  boot1 {boot1} n1={n1} unacked={unacked}; missing {sorted(missing)[:8]}")
        wait_for(lambda: not queued_seqs(workdir / "queue.sqlite3", boot1), 15,
                 what="the old boot's queue acked")
        wait_for(lambda: rig.collector.states().get(name) == "online", 15, what="online again")
    finally:
        second.terminate()
        second.wait(15)
    report = compare(expected, rig.collector.stored_events())
    print(f"\n  Will {will_s:.1f} s after the link went silent (bound {WILL_BOUND_S:g} s); "
          f"boot 1 made {n1} events, {unacked} unacked at the kill, replayed by boot 2; "
          f"{report.line()}")
    assert will_s <= WILL_BOUND_S
    assert unacked > 0, "the kill left nothing to replay: the case proved nothing"
    assert_exact(report)


def test_corrupt_queue_is_set_aside_and_the_agent_runs(rig_factory: Callable[..., Rig],
                                                       tmp_path: Path) -> None:
    rig = rig_factory(1)
    station = rig.stations[0]
    workdir = tmp_path / "corrupt"
    config = fault_config(station.name, station.site, rig.broker.url, workdir)
    config.queue.path.write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    env: dict[str, str] = {}
    cmd = ["tests.support.kit_agent", "--sysfs", str(workdir / "sys"),
           "run", "--config", str(workdir / "agent.toml")]
    for attempt in (1, 2):  # the second start must find a good queue: no loop
        agent = spawn(cmd, workdir, env, name=f"run-{attempt}")
        try:
            wait_for(lambda: rig.collector.states().get(station.name) == "online", 30,
                     what="agent online despite the corrupt queue")
            assert agent.poll() is None, "agent exited"
        finally:
            agent.send_signal(signal.SIGTERM)
            code = agent.wait(15)
        assert code == 0
        wait_for(lambda: rig.collector.states().get(station.name) == "offline", 15,
                 what="clean stop shown as offline")
    aside = sorted(p.name for p in workdir.glob("queue.sqlite3.corrupt-*") if "-wal" not in p.name
                   and "-shm" not in p.name)
    first_log = (workdir / "run-1.log").read_text()
    print(f"\n  set aside: {aside}; reported: "
          f"{[ln for ln in first_log.splitlines() if 'unreadable' in ln][:1]}")
    assert len(aside) == 1, f"expected one file set aside, got {aside}"
    assert "unreadable" in first_log and "moved aside" in first_log
    assert "unreadable" not in (workdir / "run-2.log").read_text()
