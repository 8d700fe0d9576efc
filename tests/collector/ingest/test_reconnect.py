"""The collector's MQTT session must come back after every broker restart.

Regression for a hang seen in the fault suite (about one graceful restart in
four): the collector logged "lost MQTT broker … reconnecting" and never tried
again. The broker is restarted in a worker thread so that the collector keeps
running and retrying while the broker stops and starts, which is where the
races were, and acks are published throughout, as the history flusher does
(paho is not thread-safe: a publish racing the connect thread could leave the
CONNECT unsent). Persistence is off, so a message published after a restart
only reaches the collector if it made a new session and subscribed again.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from collector.app import INGEST_KEY
from collector.config import CollectorConfig
from tests.collector.ingest.conftest import (
    RunningCollector,
    Station,
    collector_config,
    run_collector,
    until,
)
from tests.support.mosquitto import MosquittoBroker

pytestmark = pytest.mark.broker

RESTARTS = 20


def _graceful(broker: MosquittoBroker) -> None:
    broker.stop()
    broker.start()


def _sigkill(broker: MosquittoBroker) -> None:
    broker.kill()
    broker.start()


def _sessions(caplog: pytest.LogCaptureFixture) -> int:
    return sum(
        1 for r in caplog.records
        if r.name == "collector.mqtt.session" and r.getMessage().startswith("connected to ")
    )


async def _publish_acks(col: RunningCollector, site: str, stop: asyncio.Event) -> None:
    # Load, not synchronisation: an ack every few ms, connected or not.
    ingest, seq = col.app[INGEST_KEY], 0
    while not stop.is_set():
        seq += 1
        ingest.publish_ack(site, "rc-01", "b" * 32, seq)
        await asyncio.sleep(0.003)


@pytest.mark.parametrize("restart", [_graceful, _sigkill], ids=["graceful", "sigkill"])
async def test_collector_resubscribes_after_every_broker_restart(
    broker_factory: Callable[..., MosquittoBroker], tmp_path: Path, site: str,
    caplog: pytest.LogCaptureFixture, restart: Callable[[MosquittoBroker], None],
) -> None:
    caplog.set_level(logging.INFO, logger="collector.mqtt.session")
    broker = broker_factory()
    config = collector_config(broker, tmp_path / "data", site)
    # A production-sized cap: the collector's first retry after losing a good
    # session must come from reconnect_min_s, not the agents' 40 s restart spread.
    config = replace(config, broker=replace(config.broker, reconnect_max_s=60.0))
    survived, stop = 0, asyncio.Event()
    async with run_collector(config) as col:
        acks = asyncio.create_task(_publish_acks(col, site, stop))
        for n in range(1, RESTARTS + 1):
            await asyncio.to_thread(restart, broker)
            # A fresh publisher each time (paho's own reconnect waits >= 1 s).
            # Retained, so it arrives whether the collector subscribes again
            # before or after this publish.
            st = Station(broker, site, "rc-01", seq=n).connect()
            try:
                st.heartbeat(hostname=f"pc-after-restart-{n}")
            finally:
                st.close()
            await until(
                lambda n=n: (
                    col.health.broker_connected
                    and col.fleet.station("rc-01") is not None
                    and col.fleet.station("rc-01").hostname == f"pc-after-restart-{n}"
                ),
                timeout=10.0,
                what=f"collector back after restart {n} ({survived} survived so far)",
            )
            await until(lambda n=n: _sessions(caplog) >= n + 1, timeout=5.0,
                        what=f"a new MQTT session after restart {n}")
            survived += 1
        stop.set()
        await acks
    assert survived == RESTARTS


class SilentBroker:
    """A real TCP listener that accepts and reads but never answers: no CONNACK."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.accepted = 0
        self.closed_by_peer = 0
        self.received = b""
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return  # closed
            with self._lock:
                self.accepted += 1
            threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    def _drain(self, conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(4096):
                with self._lock:
                    self.received += data
        with self._lock:
            self.closed_by_peer += 1

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def silent_broker() -> Iterator[SilentBroker]:
    server = SilentBroker()
    yield server
    server.close()


def _config_for(
    port: int, tmp_path: Path, site: str, connect_timeout_s: float
) -> CollectorConfig:
    fake = MosquittoBroker(tmp_path / "unused", port=port)  # only its url is used
    config = collector_config(fake, tmp_path / "data", site)
    return replace(config, broker=replace(config.broker, connect_timeout_s=connect_timeout_s))


async def test_no_connack_is_abandoned_and_retried_without_leaking_sockets(
    silent_broker: SilentBroker, tmp_path: Path, site: str
) -> None:
    config = _config_for(silent_broker.port, tmp_path, site, connect_timeout_s=0.3)
    async with run_collector(config, ready=False) as col:
        await until(lambda: silent_broker.accepted >= 3, what="three connect attempts")
        await until(lambda: silent_broker.closed_by_peer >= 2,
                    what="each abandoned attempt's socket closed by the collector")
        assert not col.health.broker_connected
    assert silent_broker.received.startswith(b"\x10")  # an MQTT CONNECT came first


async def test_stop_mid_connect_closes_the_socket(
    silent_broker: SilentBroker, tmp_path: Path, site: str
) -> None:
    # connect_timeout far longer than the test: only stop() can end this session.
    config = _config_for(silent_broker.port, tmp_path, site, connect_timeout_s=60.0)
    async with run_collector(config, ready=False):
        await until(lambda: silent_broker.accepted == 1, what="the collector's connection")
    await until(lambda: silent_broker.closed_by_peer == 1, timeout=5.0,
                what="the socket closed by stop(), not left open")
    assert silent_broker.accepted == 1
