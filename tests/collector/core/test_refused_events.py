"""A refused event never blocks a boot's acks when it can be named: it is stored with its
raw payload and acked past (collector/rejected.py); one that cannot be named stays
unacked at the agent. Dispatcher, Fleet, History and a real SQLite store, no broker."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from collector.dispatch import Dispatcher
from collector.fleet import Fleet
from collector.history import History
from collector.registry import Registry, StationEntry
from collector.stats import IngestStats
from collector.store import DB_NAME, Store
from pantau import wire
from tests.collector.core.messages import T0

SITE, STATION, BOOT = "medan-baru", "mb-01", "boot-a"
TOPIC = wire.topic_for(SITE, STATION, "event")


def event_doc(n: int, **changes: Any) -> dict[str, Any]:
    """Event number `n` of the boot as JSON; `changes` set fields (None removes one)."""
    doc = json.loads(wire.encode(wire.Event(
        v=1, site=SITE, station=STATION, boot_id=BOOT, seq=n, ts=T0 + n,
        component="iris", from_="ok", to="missing")))
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


def raw(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


class Rig:
    def __init__(self, store: Store, registry: Registry) -> None:
        self.store, self.stats = store, IngestStats()
        self.fleet = Fleet(registry, now=0.0)
        self.history = History(store, self.stats.store)
        self.dispatcher = Dispatcher(self.fleet, self.stats, self.history, "pantau")
        self.acks: list[int] = []

    def send(self, payload: bytes, topic: str = TOPIC) -> None:
        self.dispatcher.handle(topic, payload, 2000.0)

    async def commit(self) -> None:
        assert await self.history.flush(lambda site, st, boot, seq: self.acks.append(seq))

    def kept(self) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.store.path) as conn:
            return conn.execute("SELECT station, site, boot_id, seq, reason, payload "
                                "FROM rejected_events ORDER BY id").fetchall()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    store = Store(tmp_path)
    await store.open()
    yield Rig(store, Registry.empty())
    await store.close()


KEPT = [
    ("protocol version skew", raw(event_doc(2, v=2, severity="minor")), "version"),
    ("a status this version does not know", raw(event_doc(2, to="degraded")), "schema"),
    ("a field type this version does not expect", raw(event_doc(2, ts="soon")), "schema"),
]


@pytest.mark.parametrize(("payload", "reason"), [c[1:] for c in KEPT], ids=[c[0] for c in KEPT])
async def test_a_refused_event_that_can_be_named_is_kept_and_acked_past(
    rig: Rig, payload: bytes, reason: str
) -> None:
    rig.send(raw(event_doc(1)))
    rig.send(payload)
    rig.send(raw(event_doc(3)))
    await rig.commit()
    assert rig.acks == [3]
    assert rig.kept() == [(STATION, SITE, BOOT, 2, reason, payload)]
    assert [e.seq for e in rig.store.events()] == [3, 1]
    assert rig.stats.rejected[reason] == 1 and rig.stats.rejected_events_stored == 1


NOT_KEPT = [
    ("not JSON", b'{"seq": 2,', TOPIC, "decode"),
    ("no seq", raw(event_doc(2, seq=None, v=2)), TOPIC, "version"),
    ("a negative seq", raw(event_doc(2, seq=-2)), TOPIC, "schema"),
    ("a boot_id over 64 characters", raw(event_doc(2, boot_id="b" * 65)), TOPIC, "schema"),
    ("a payload naming another station", raw(event_doc(2, v=2, station="mb-02")), TOPIC,
     "version"),
    ("a topic of protocol v2", raw(event_doc(2, v=2)), f"pantau/v2/{SITE}/{STATION}/event",
     "version"),
    ("a heartbeat, not an event", raw(event_doc(2, v=2)),
     wire.topic_for(SITE, STATION, "heartbeat"), "version"),
    ("oversize", b'{"seq": 2, "boot_id": "boot-a", "x": "' + b"x" * wire.MAX_PAYLOAD_BYTES
     + b'"}', TOPIC, "oversize"),
]


@pytest.mark.parametrize(("payload", "topic", "reason"), [c[1:] for c in NOT_KEPT],
                         ids=[c[0] for c in NOT_KEPT])
async def test_a_refused_event_that_cannot_be_named_stays_unacked_at_the_agent(
    rig: Rig, payload: bytes, topic: str, reason: str
) -> None:
    rig.send(raw(event_doc(1)))
    rig.send(payload, topic)
    rig.send(raw(event_doc(3)))
    await rig.commit()
    assert rig.acks == [1], "acked past an event nobody stored"
    assert rig.kept() == []
    assert rig.stats.rejected[reason] == 1 and rig.stats.rejected_events_stored == 0


async def test_a_refused_event_sent_again_is_kept_once_and_acked_again(rig: Rig) -> None:
    skewed = raw(event_doc(1, v=2))
    rig.send(skewed)
    await rig.commit()
    rig.send(skewed)  # the agent missed the ack
    await rig.commit()
    assert rig.acks == [1, 1] and len(rig.kept()) == 1
    assert rig.stats.rejected_events_stored == 1 and rig.stats.rejected["version"] == 2


async def test_a_retired_stations_refused_event_is_neither_kept_nor_acked(
    tmp_path: Path
) -> None:
    store = Store(tmp_path)
    await store.open()
    retired = Registry({}, {STATION: StationEntry(STATION, SITE, "ektp-enrollment", "retired")})
    rig = Rig(store, retired)
    rig.send(raw(event_doc(1, v=2)))
    assert await rig.history.flush(lambda *a: rig.acks.append(a[3]))
    assert rig.acks == [] and rig.kept() == []
    await store.close()
    assert (tmp_path / DB_NAME).exists()
