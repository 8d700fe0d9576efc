"""The collector's MQTT session against a real Mosquitto: state, bad input, acks, restarts."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from collector.config import CollectorConfig
from collector.registry import load_registry
from pantau import wire
from tests.collector.ingest.conftest import (
    AckListener,
    Station,
    collector_config,
    run_collector,
    until,
)
from tests.support.mosquitto import MosquittoBroker

pytestmark = pytest.mark.broker


async def test_birth_heartbeat_and_clean_stop_drive_station_state(
    collector_cfg: CollectorConfig, stations: Callable[..., Station]
) -> None:
    async with run_collector(collector_cfg) as col:
        st = stations("mb-01").connect()
        st.birth()
        await until(lambda: col.state("mb-01") == "online", what="online after birth")
        st.heartbeat(hostname="pc-mb-01")
        await until(lambda: col.fleet.station("mb-01").hostname == "pc-mb-01", what="heartbeat")
        offline = wire.Status(state="offline", boot_id=st.boot_id, session=1, reason="shutdown")
        st.publish(st.topic("status"), wire.encode(offline), retain=True)
        await until(lambda: col.state("mb-01") == "offline", what="offline after clean stop")
        assert col.stats.messages["status"] == 2
        assert col.stats.messages["heartbeat"] == 1


async def test_last_will_marks_station_lost(
    collector_cfg: CollectorConfig, stations: Callable[..., Station]
) -> None:
    async with run_collector(collector_cfg) as col:
        st = stations("mb-02").connect(will=True)
        st.birth()
        await until(lambda: col.state("mb-02") == "online", what="online")
        assert st.client is not None
        st.client.loop_stop()
        st.client.socket().close()  # vanish without DISCONNECT: the broker sends the Will
        st.client = None
        await until(lambda: col.state("mb-02") == "lost", what="lost after the Will")


async def test_silent_station_goes_stale(
    mosquitto: MosquittoBroker, tmp_path: Path, site: str, stations: Callable[..., Station]
) -> None:
    config = collector_config(mosquitto, tmp_path / "data", site, stale_factor=1.5)
    async with run_collector(config) as col:
        st = stations("mb-03").connect()
        st.heartbeat(interval_s=0.2, retain=False)
        await until(lambda: col.state("mb-03") == "online", what="online")
        await until(lambda: col.state("mb-03") == "stale", what="stale after 1.5 x 0.2 s")


def _good_heartbeat(st: Station) -> bytes:
    return wire.encode(st.make_heartbeat(hostname="bad-host"))


BAD_INPUT = [
    ("decode", "heartbeat", lambda st: b"\xff not json"),
    ("schema", "heartbeat", lambda st: b'{"v":1,"station":"mb-04"}'),
    ("version", "heartbeat", lambda st: _good_heartbeat(st).replace(b'"v":1', b'"v":2')),
    ("mismatch", "heartbeat", lambda st: _good_heartbeat(st).replace(b'"mb-04"', b'"mb-99"')),
    ("oversize", "heartbeat", lambda st: b" " * (wire.MAX_PAYLOAD_BYTES + 1)),
    ("schema", "status", lambda st: b'{"state":"sleeping","boot_id":"x","session":1}'),
    ("decode", "event", lambda st: b'{"v":1,'),
]


@pytest.mark.parametrize(
    ("reason", "kind", "payload"), BAD_INPUT, ids=[f"{r}-{k}" for r, k, _ in BAD_INPUT]
)
async def test_bad_input_is_counted_and_leaves_good_state_alone(
    collector_cfg: CollectorConfig,
    stations: Callable[..., Station],
    reason: str,
    kind: wire.MessageKind,
    payload: Callable[[Station], bytes],
) -> None:
    async with run_collector(collector_cfg) as col:
        st = stations("mb-04").connect()
        st.heartbeat(hostname="good-host", retain=False)
        await until(lambda: col.stats.messages["heartbeat"] == 1, what="good heartbeat")
        before = col.stats.rejected[reason]
        st.publish(st.topic(kind), payload(st))
        await until(lambda: col.stats.rejected[reason] == before + 1, what=f"{reason} counted")
        view = col.fleet.station("mb-04")
        assert (view.state, view.hostname) == ("online", "good-host")
        assert col.stats.messages["heartbeat"] == 1


async def test_bad_topic_is_counted(
    collector_cfg: CollectorConfig, stations: Callable[..., Station]
) -> None:
    async with run_collector(collector_cfg) as col:
        st = stations("mb-05").connect()
        st.publish(f"pantau/v1/{st.site}/Not_An_Id/heartbeat", _good_heartbeat(st))
        await until(lambda: col.stats.rejected["topic"] == 1, what="topic rejection")
        assert col.fleet.stations() == []


async def test_retired_station_is_ignored_and_counted(
    mosquitto: MosquittoBroker, tmp_path: Path, site: str, stations: Callable[..., Station]
) -> None:
    fleet_toml = tmp_path / "fleet.toml"
    fleet_toml.write_text(
        f'[sites.{site}]\nname = "Medan Baru"\nregion = "Kota Medan"\n'
        f'[stations.mb-old]\nsite = "{site}"\nprofile = "ektp-enrollment"\nlifecycle = "retired"\n'
    )
    config = collector_config(mosquitto, tmp_path / "data", site)
    async with run_collector(config, load_registry(fleet_toml)) as col:
        st = stations("mb-old").connect()
        st.heartbeat(retain=False)
        await until(lambda: col.stats.rejected["retired"] == 1, what="retired rejection")
        assert col.fleet.station("mb-old") is None


async def test_duplicate_event_is_stored_once_and_acked_each_time(
    mosquitto: MosquittoBroker, collector_cfg: CollectorConfig, stations: Callable[..., Station]
) -> None:
    async with run_collector(collector_cfg) as col:
        st = stations("mb-06").connect()
        acks = AckListener(mosquitto, st.topic("ack"))
        try:
            for seq in (0, 1):
                st.send_event(st.event(seq))
            await until(lambda: any(a.seq == 1 for a in acks.acks), what="ack for seq 1")
            st.send_event(st.event(1))  # the agent missed the ack and replays
            await until(
                lambda: len(acks.acks) >= 2 and col.stats.rejected["duplicate"] == 1,
                what="ack re-sent for the duplicate",
            )
        finally:
            acks.close()
        stored = col.store.events(station="mb-06")
        assert sorted(e.seq for e in stored) == [0, 1]
        assert {a.boot_id for a in acks.acks} == {st.boot_id}
        assert acks.acks[-1].seq == 1


async def test_events_published_while_collector_is_down_arrive_on_restart(
    mosquitto: MosquittoBroker, collector_cfg: CollectorConfig, stations: Callable[..., Station]
) -> None:
    async with run_collector(collector_cfg):
        pass  # the broker now holds the collector's persistent session
    st = stations("mb-07").connect()
    for seq in range(5):
        st.send_event(st.event(seq))
    acks = AckListener(mosquitto, st.topic("ack"))
    try:
        async with run_collector(collector_cfg) as col:
            await until(
                lambda: (
                    len(col.store.events(station="mb-07")) == 5
                    if col.store.path.exists()
                    else False
                ),
                what="queued events stored",
            )
            await until(lambda: any(a.seq == 4 for a in acks.acks), what="cumulative ack")
    finally:
        acks.close()


async def test_restart_restores_retained_state_without_false_stale(
    mosquitto: MosquittoBroker, tmp_path: Path, site: str, stations: Callable[..., Station]
) -> None:
    config = collector_config(mosquitto, tmp_path / "data", site, stale_factor=2.0)
    st = stations("mb-08").connect()
    st.birth()
    st.heartbeat(interval_s=30.0, hostname="pc-mb-08")
    async with run_collector(config) as col:
        status, body = await col.get("/readyz")
        assert status == 200, body
        view = col.fleet.station("mb-08")
        assert (view.state, view.hostname) == ("online", "pc-mb-08")
        col.fleet.tick(time.time())
        assert col.state("mb-08") == "online"
        history = col.fleet.drain_transitions()
        assert all(t.new != "stale" for t in history)


async def test_readyz_is_503_with_reason_while_broker_is_down(
    broker_factory: Callable[..., MosquittoBroker], tmp_path: Path, site: str
) -> None:
    broker = broker_factory()
    config = collector_config(broker, tmp_path / "data", site)
    async with run_collector(config) as col:
        broker.stop()
        await until(lambda: not col.stats.broker_connected, what="disconnect noticed")
        status, body = await col.get("/readyz")
        assert status == 503 and b"not connected" in body
        broker.start()
        await until(lambda: col.stats.broker_connected, what="reconnected")
        status, _ = await col.get("/readyz")
        assert status == 200
