"""The collector reads the MQTT socket in large chunks (paho_loop._BufferedClient).

Bytes in that user-space buffer are invisible to epoll, so a burst must be
drained completely, also past READ_BURST packets, in plain TCP and in TLS, and
nothing from an old connection may leak into the next one.
"""

from __future__ import annotations

import fcntl
import struct
import subprocess
import termios
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from collector.app import INGEST_KEY
from collector.config import CollectorConfig
from collector.mqtt import paho_loop
from collector.mqtt.paho_loop import READ_BURST
from pantau import wire
from tests.collector.ingest.conftest import (
    RunningCollector,
    Station,
    collector_config,
    run_collector,
    until,
)
from tests.support.mosquitto import MosquittoBroker, free_port, wait_for

pytestmark = pytest.mark.broker

BURST = READ_BURST + 50  # past one readable callback, ending inside the last chunk read
EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")  # fast to generate


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _make_certs(d: Path) -> None:
    _openssl("req", "-x509", *EC_KEY, "-nodes", "-days", "2", "-subj", "/CN=test-ca",
             "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt"))
    _openssl("req", *EC_KEY, "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"))
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.crt"),
             "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2",
             "-extfile", str(d / "san.ext"), "-out", str(d / "server.crt"))


def _tls_config(broker_factory: Callable[..., MosquittoBroker], tmp_path: Path,
                site: str) -> tuple[MosquittoBroker, CollectorConfig]:
    """A broker with a plain listener (stations) and a TLS one (the collector)."""
    _make_certs(tmp_path)
    tls_port = free_port()
    broker = broker_factory(extra_config=(
        "user root\n"  # pytest's tmp dirs are closed to Mosquitto's own user
        f"listener {tls_port} 127.0.0.1\ncafile {tmp_path / 'ca.crt'}\n"
        f"certfile {tmp_path / 'server.crt'}\nkeyfile {tmp_path / 'server.key'}"
    ))
    config = collector_config(broker, tmp_path / "data", site)
    tls = replace(config.broker, port=tls_port, tls=True, ca_file=tmp_path / "ca.crt")
    return broker, replace(config, broker=tls)


@pytest.mark.parametrize("transport", ["tcp", "tls"])
async def test_a_burst_past_read_burst_is_applied_completely(
    transport: str, mosquitto: MosquittoBroker, broker_factory: Callable[..., MosquittoBroker],
    tmp_path: Path, site: str, stations: Callable[..., Station],
) -> None:
    if transport == "tls":
        broker, config = _tls_config(broker_factory, tmp_path, site)
    else:
        broker, config = mosquitto, collector_config(mosquitto, tmp_path / "data", site)
    async with run_collector(config) as col:
        st = stations("burst-01", broker=broker).connect()
        # Published without yielding to the loop the collector runs on: the
        # whole burst piles up in its socket and is read in large chunks.
        for _ in range(BURST):
            st.heartbeat(retain=False)
        await until(lambda: col.stats.messages["heartbeat"] == BURST, what="the whole burst")
        assert col.fleet.station("burst-01").last_heartbeat_ts is not None
        assert sum(col.stats.rejected.values()) == 0  # no packet split or mixed up


async def test_after_a_broker_restart_reading_starts_clean(
    broker_factory: Callable[..., MosquittoBroker], tmp_path: Path, site: str,
    stations: Callable[..., Station],
) -> None:
    broker = broker_factory()
    async with run_collector(collector_config(broker, tmp_path / "data", site)) as col:
        st = stations("restart-01", broker=broker).connect()
        for _ in range(50):
            st.heartbeat(retain=False)
        await until(lambda: col.stats.messages["heartbeat"] == 50, what="first burst")
        st.close()
        broker.restart()
        st = stations("restart-01", broker=broker).connect()
        st.birth()  # QoS 1, retained: arrives once the collector has subscribed again
        await until(lambda: col.stats.messages["status"] == 1, what="resubscribed", timeout=20)
        st.seq = 50
        for _ in range(50):
            st.heartbeat(retain=False)
        await until(lambda: col.stats.messages["heartbeat"] == 100, what="second burst")
        assert sum(col.stats.rejected.values()) == 0


def _kernel_unread(col: RunningCollector) -> int:
    sock = col.app[INGEST_KEY]._link._client.socket()  # the collector's own socket, to wait on
    assert sock is not None
    return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0" * 4))[0])


async def test_packets_left_in_the_buffer_after_a_burst_are_not_stranded(
    monkeypatch: pytest.MonkeyPatch, collector_cfg: CollectorConfig,
    stations: Callable[..., Station],
) -> None:
    """The whole burst sits in the kernel before the collector reads: one recv
    takes it all, the readable callback stops after READ_BURST packets, and the
    rest is only in our buffer, where epoll cannot see it."""
    monkeypatch.setattr(paho_loop, "READ_BURST", 20)
    async with run_collector(collector_cfg) as col:
        st = stations("strand-01").connect()
        size = 0
        for _ in range(30):  # ~20 KB: fits the socket buffer and one READ_CHUNK
            st.seq += 1
            payload = wire.encode(st.make_heartbeat())
            st.publish(st.topic("heartbeat"), payload, qos=0)
            size += 1 + 2 + 2 + len(st.topic("heartbeat")) + len(payload)  # QoS 0 PUBLISH
        # Blocking on purpose: the collector's loop must not read before all is there.
        wait_for(lambda: _kernel_unread(col) >= size, 5, what="the burst in the socket")
        await until(lambda: col.stats.messages["heartbeat"] == 30, what="all 30 applied")


@pytest.mark.parametrize(("method", "params"), [
    ("_sock_recv", ["self", "bufsize"]),
    ("_handle_on_message", ["self", "message"]),
])
def test_installed_paho_still_has_the_private_methods_we_override(
    method: str, params: list[str],
) -> None:
    """Should a paho upgrade rename them, paho_loop still works (paho's own reads and
    delivery), only slower: this test is where that shows."""
    import inspect

    import paho.mqtt.client as mqtt

    assert list(inspect.signature(getattr(mqtt.Client, method)).parameters) == params
