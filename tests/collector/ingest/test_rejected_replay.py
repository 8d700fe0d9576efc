"""A rolling upgrade over a real Mosquitto: an event this collector refuses (protocol version
skew) in the middle of a boot is stored with its payload and acked past, every later event
is acked once stored, and `pantau-collector replay-rejected` (the real command) puts it into
the history once the collector accepts it."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import threading
import uuid
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from collector.config import CollectorConfig
from collector.store import DB_NAME
from pantau import wire
from tests.collector.ingest.conftest import Station, run_collector, until
from tests.support.mosquitto import MosquittoBroker, wait_for

pytestmark = pytest.mark.broker
REPO = Path(__file__).resolve().parents[3]


def stored(db: Path) -> tuple[set[int], set[int]]:
    """(seqs in events, seqs in rejected_events), read as any other reader would."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        events = {r[0] for r in conn.execute("SELECT seq FROM events")}
        kept = {r[0] for r in conn.execute("SELECT seq FROM rejected_events")}
    return events, kept


class CheckingAcks:
    """An agent's ack subscription that, on every ack, checks that the collector's database
    already holds every event the ack covers (acks must never run ahead of the disk)."""

    def __init__(self, broker: MosquittoBroker, station: Station, db: Path) -> None:
        self.seqs: list[int] = []
        self.ahead: list[tuple[int, set[int]]] = []
        self._lock = threading.Lock()
        self._db = db
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                   client_id=f"acks-{uuid.uuid4().hex[:6]}")
        self._client.on_message = self._on_ack
        done: list[int] = []
        self._client.on_subscribe = lambda *a: done.append(1)
        self._client.connect("127.0.0.1", broker.port)
        self._client.subscribe(station.topic("ack"), qos=1)
        self._client.loop_start()
        wait_for(lambda: done, 5, what="ack subscription")

    def _on_ack(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        seq = wire.decode("ack", msg.payload).seq  # type: ignore[union-attr]
        events, kept = stored(self._db)
        with self._lock:
            self.seqs.append(seq)
            if not set(range(1, seq + 1)) <= events | kept:
                self.ahead.append((seq, events | kept))

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


async def replay(config_file: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "collector.cli", "replay-rejected", "--config", str(config_file),
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_version_skew_mid_boot_is_acked_past_and_replayed_after_the_upgrade(
    mosquitto: MosquittoBroker, collector_cfg: CollectorConfig, tmp_path: Path,
    stations: Callable[..., Station],
) -> None:
    db = collector_cfg.state.data_dir / DB_NAME
    config_file = tmp_path / "collector.toml"
    config_file.write_text(f'[state]\ndata_dir = "{collector_cfg.state.data_dir}"\n')
    st = stations("mb-01").connect()
    skewed = json.loads(wire.encode(st.event(3)))
    skewed.update(v=2, severity="minor")  # what a newer agent might send
    skewed_raw = json.dumps(skewed).encode()
    async with run_collector(collector_cfg) as col:
        acks = CheckingAcks(mosquitto, st, db)
        try:
            for seq in (1, 2):
                st.send_event(st.event(seq))
            await until(lambda: acks.seqs and acks.seqs[-1] == 2, what="ack of 2")
            st.publish(st.topic("event"), skewed_raw)
            for seq in (4, 5):
                st.send_event(st.event(seq))
            await until(lambda: acks.seqs and acks.seqs[-1] == 5, what="ack past the refused 3")
        finally:
            acks.close()
        assert acks.ahead == [], f"acked before stored: {acks.ahead}"
        assert acks.seqs == sorted(acks.seqs)
        assert stored(db) == ({1, 2, 4, 5}, {3})
        assert col.stats.rejected["version"] == 1
        status, metrics = await col.get("/metrics")
        assert status == 200
        assert b"pantau_collector_rejected_events_stored_total 1\n" in metrics

        # Not upgraded yet: the command says so and keeps the event.
        code, out = await replay(config_file)
        assert code == 3, out
        assert "0 refused event(s) added" in out and "still refused by this version (version: 1)" \
            in out
        assert stored(db) == ({1, 2, 4, 5}, {3})

        # The "upgrade": this collector's decoder takes what the newer agent sent once its
        # version is one it speaks (unknown fields are allowed by the contract).
        with closing(sqlite3.connect(db)) as conn, conn:
            conn.execute("UPDATE rejected_events SET payload = ? WHERE seq = 3",
                         (json.dumps({**skewed, "v": 1}).encode(),))
        code, out = await replay(config_file)
        assert code == 0, out
        assert "1 refused event(s) added to the history" in out
        assert stored(db)[0] == {1, 2, 3, 4, 5}
        [three] = [e for e in col.store.events(station="mb-01") if e.seq == 3]
        assert (three.boot_id, three.ts, three.to) == (st.boot_id, skewed["ts"], "missing")

        code, out = await replay(config_file)  # again: nothing waits any more
        assert code == 0 and "0 refused event(s) added" in out, out


async def test_replay_without_a_database_says_where_it_looked(tmp_path: Path) -> None:
    config_file = tmp_path / "collector.toml"
    config_file.write_text(f'[state]\ndata_dir = "{tmp_path / "nowhere"}"\n')
    code, out = await replay(config_file)
    assert code == 1
    assert out.strip() == (f"pantau-collector: replay-rejected: no history database at "
                           f"{tmp_path / 'nowhere' / DB_NAME}; check [state] data_dir or "
                           "--data-dir")
