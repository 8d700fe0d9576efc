"""Birth, Last Will, clean stop, sessions and stale Wills — against a real Mosquitto."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from msgspec import structs

from agent.mqtt.publisher import Publisher
from pantau import wire
from tests.agent.publisher.helpers import (
    Watcher,
    agent_config,
    new_station,
    retained_status,
    topic,
)
from tests.support.mosquitto import MosquittoBroker, wait_for

REPO = Path(__file__).resolve().parents[3]


class TopOfWindow(random.Random):
    """Always the longest delay the backoff window allows (a fake at the randomness boundary)."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_birth_is_retained_with_boot_and_session(
    mosquitto: MosquittoBroker, tmp_path: Path, publishers: Callable[..., Publisher]
) -> None:
    station = new_station()
    pub = publishers(agent_config(mosquitto, tmp_path / "q.db", station), boot_id="boot-birth")
    wait_for(lambda: pub.connected, what="connected")

    birth = retained_status(mosquitto, station)  # a subscriber arriving after the fact

    assert (birth.state, birth.boot_id, birth.session) == ("online", "boot-birth", 1)
    assert birth.ts is not None
    assert pub.session == 1 and pub.stats.connects == 1 and pub.healthy()


def test_will_fires_when_the_agent_is_killed(
    mosquitto: MosquittoBroker, tmp_path: Path, watchers: Callable[..., Watcher]
) -> None:
    station = new_station()
    watcher = watchers(mosquitto, [topic(station, "status")])
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.agent.publisher.run_publisher", str(mosquitto.port),
         station, str(tmp_path / "q.db"), "boot-killed"],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "connected"
        wait_for(lambda: any(s.state == "online" for s in watcher.statuses(station)),
                 what="birth")
        os.kill(proc.pid, signal.SIGKILL)
        # keepalive 2 s: the broker must notice within 1.5 x keepalive (+ slack).
        lost = wait_for(lambda: [s for s in watcher.statuses(station) if s.state == "lost"],
                        timeout=2 * 1.5 + 3, what="Last Will")
    finally:
        proc.kill()
        proc.wait(5)
    assert (lost[0].boot_id, lost[0].session) == ("boot-killed", 1)


def test_clean_stop_publishes_offline_and_no_will(
    mosquitto: MosquittoBroker, tmp_path: Path, publishers: Callable[..., Publisher],
    watchers: Callable[..., Watcher],
) -> None:
    station = new_station()
    watcher = watchers(mosquitto, [topic(station, "status"), "sentinel/" + station])
    pub = publishers(agent_config(mosquitto, tmp_path / "q.db", station), boot_id="boot-stop")
    wait_for(lambda: pub.connected, what="connected")

    pub.stop(reason="shutdown")
    # A round trip through the broker after stop: a Will would have been routed before it.
    watcher.publish("sentinel/" + station, b"x")
    wait_for(lambda: watcher.on("sentinel/" + station), what="sentinel")

    states = [(s.state, s.reason) for s in watcher.statuses(station)]
    assert states == [("online", ""), ("offline", "shutdown")]
    assert retained_status(mosquitto, station).state == "offline"
    assert not pub.connected


def test_session_grows_across_broker_restart_with_new_birth(
    broker_factory: Callable[..., MosquittoBroker], tmp_path: Path,
    publishers: Callable[..., Publisher],
) -> None:
    broker = broker_factory()
    station = new_station()
    pub = publishers(agent_config(broker, tmp_path / "q.db", station), boot_id="boot-restart")
    wait_for(lambda: pub.session == 1 and pub.connected, what="first session")

    broker.restart()  # no persistence: the retained birth is gone with the old broker

    wait_for(lambda: pub.session == 2 and pub.connected, what="second session")
    birth = retained_status(broker, station)
    assert (birth.state, birth.boot_id, birth.session) == ("online", "boot-restart", 2)
    assert pub.stats.disconnects >= 1 and pub.stats.connects == 2


def test_dropped_socket_fires_will_then_reconnects_with_next_session(
    mosquitto: MosquittoBroker, tmp_path: Path, publishers: Callable[..., Publisher],
    watchers: Callable[..., Watcher],
) -> None:
    station = new_station()
    watcher = watchers(mosquitto, [topic(station, "status")])
    # Reconnect no sooner than 0.3 s: a reconnect that beats the broker to the dead socket
    # takes the session over, and Mosquitto then discards the old Will (real, by design).
    cfg = agent_config(mosquitto, tmp_path / "q.db", station)
    cfg = structs.replace(cfg, broker=replace(cfg.broker, reconnect_min_s=0.3,
                                              reconnect_max_s=0.3))
    pub = publishers(cfg, boot_id="boot-drop", rng=TopOfWindow())
    wait_for(lambda: watcher.statuses(station), what="first birth")  # on the wire, not queued

    pub.drop_connection()

    wait_for(lambda: pub.session == 2 and pub.connected, what="reconnected")
    wait_for(lambda: len(watcher.statuses(station)) >= 3, what="will and second birth")
    seen = [(s.state, s.session) for s in watcher.statuses(station)]
    assert seen[:3] == [("online", 1), ("lost", 1), ("online", 2)]


def test_stale_will_on_own_topic_makes_the_agent_republish_its_birth(
    mosquitto: MosquittoBroker, tmp_path: Path, publishers: Callable[..., Publisher],
    watchers: Callable[..., Watcher],
) -> None:
    station = new_station()
    watcher = watchers(mosquitto, [topic(station, "status")])
    pub = publishers(agent_config(mosquitto, tmp_path / "q.db", station), boot_id="boot-stale")
    wait_for(lambda: watcher.statuses(station), what="birth")  # else ours could overwrite it
    stale = wire.Status(state="lost", boot_id="boot-stale", session=0)

    watcher.publish(topic(station, "status"), wire.encode(stale), retain=True)

    wait_for(lambda: pub.stats.rebirths == 1, what="birth republished")
    birth = retained_status(mosquitto, station)
    assert (birth.state, birth.boot_id, birth.session) == ("online", "boot-stale", 1)
