"""A collector app in the test's event loop against a real Mosquitto, and paho publishers.

The collector runs in-process (aiohttp AppRunner + TCPSite on a free port) so
tests can read its Fleet, IngestStats and Store directly; stations are plain
paho clients publishing real protocol payloads, as an agent would.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import paho.mqtt.client as mqtt
import pytest
from aiohttp import web
from paho.mqtt.enums import CallbackAPIVersion

from collector.app import HISTORY_KEY, build_app
from collector.app_keys import FLEET_KEY, HEALTH_KEY, STATS_KEY, STORE_KEY
from collector.config import CliOverrides, CollectorConfig, load_collector_config
from collector.registry import Registry
from pantau import wire
from tests.support.mosquitto import MosquittoBroker, free_port


async def until(
    predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition"
) -> Any:
    """Poll on the loop (the collector runs on this loop too) until truthy or the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class RunningCollector:
    app: web.Application
    base: str

    @property
    def fleet(self):  # type: ignore[no-untyped-def]
        return self.app[FLEET_KEY]

    @property
    def stats(self):  # type: ignore[no-untyped-def]
        return self.app[STATS_KEY]

    @property
    def store(self):  # type: ignore[no-untyped-def]
        return self.app[STORE_KEY]

    @property
    def health(self):  # type: ignore[no-untyped-def]
        return self.app[HEALTH_KEY]

    @property
    def history(self):  # type: ignore[no-untyped-def]
        return self.app[HISTORY_KEY]

    def state(self, station: str) -> str | None:
        view = self.fleet.station(station)
        return None if view is None else view.state

    async def get(self, path: str) -> tuple[int, bytes]:
        async with aiohttp.ClientSession() as http, http.get(self.base + path) as resp:
            return resp.status, await resp.read()


CollectorStarter = Callable[..., "asynccontextmanager[RunningCollector]"]


def collector_config(
    broker: MosquittoBroker, data_dir: Path, site: str, **state: Any
) -> CollectorConfig:
    """A config for one test: its own site shard and client id, so neither retained
    messages nor the persistent session of other tests on the shared broker leak in."""
    config = load_collector_config(
        None, CliOverrides(broker=broker.url, listen=f"127.0.0.1:{free_port()}", data_dir=data_dir)
    )
    broker_cfg = replace(
        config.broker,
        client_id=f"pantau-collector-{site}",
        reconnect_min_s=0.05,
        reconnect_max_s=0.2,
    )
    return replace(config, broker=broker_cfg, sites=(site,), state=replace(config.state, **state))


@pytest.fixture
def site() -> str:
    return f"site-{uuid.uuid4().hex[:10]}"


@asynccontextmanager
async def run_collector(
    config: CollectorConfig, registry: Registry | None = None, ready: bool = True
) -> AsyncIterator[RunningCollector]:
    app = build_app(config, registry or Registry.empty())
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, config.http.host, config.http.port).start()
        running = RunningCollector(app, f"http://{config.http.host}:{config.http.port}")
        if ready:
            await until(lambda: app[HEALTH_KEY].ready, what="collector ready")
        yield running
    finally:
        await runner.cleanup()


@pytest.fixture
def collector_cfg(mosquitto: MosquittoBroker, tmp_path: Path, site: str) -> CollectorConfig:
    return collector_config(mosquitto, tmp_path / "data", site)


# --- stations -----------------------------------------------------------------


@dataclass
class Station:
    """One simulated agent: a plain paho client publishing protocol payloads."""

    broker: MosquittoBroker
    site: str
    station: str
    boot_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    seq: int = 0
    client: mqtt.Client | None = None

    def topic(self, kind: wire.MessageKind) -> str:
        return wire.topic_for(self.site, self.station, kind)

    def connect(self, will: bool = False) -> Station:
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"agent-{self.station}-{uuid.uuid4().hex[:6]}"
        )
        if will:
            lost = wire.Status(state="lost", boot_id=self.boot_id, session=1)
            c.will_set(self.topic("status"), wire.encode(lost), qos=1, retain=True)
        c.connect("127.0.0.1", self.broker.port)
        c.loop_start()
        self.client = c
        return self

    def publish(self, topic: str, payload: bytes, retain: bool = False, qos: int = 1) -> None:
        assert self.client is not None
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)

    def birth(self, session: int = 1) -> None:
        status = wire.Status(
            state="online", boot_id=self.boot_id, session=session, ts=time.time()
        )
        self.publish(self.topic("status"), wire.encode(status), retain=True)

    def heartbeat(
        self, interval_s: float = 15.0, hostname: str = "pc-1", retain: bool = True
    ) -> None:
        self.seq += 1
        self.publish(
            self.topic("heartbeat"),
            wire.encode(self.make_heartbeat(interval_s, hostname)),
            retain=retain,
        )

    def make_heartbeat(
        self, interval_s: float = 15.0, hostname: str = "pc-1"
    ) -> wire.Heartbeat:
        host = wire.Host(
            hostname=hostname,
            boot_time=time.time() - 3600,
            cpu_ratio=0.1,
            load1=0.1,
            memory_used_ratio=0.5,
            swap_used_ratio=0.0,
        )
        return wire.Heartbeat(
            v=1,
            site=self.site,
            station=self.station,
            seq=self.seq,
            boot_id=self.boot_id,
            ts=time.time(),
            interval_s=interval_s,
            agent=wire.AgentInfo(version="0.1.0", uptime_s=1.0),
            host=host,
            components=[],
            checks=[],
            unexpected=[],
        )

    def event(self, seq: int, to: wire.ComponentStatus = "missing") -> wire.Event:
        return wire.Event(
            v=1,
            site=self.site,
            station=self.station,
            boot_id=self.boot_id,
            seq=seq,
            ts=time.time(),
            component="fingerprint",
            from_="ok",
            to=to,
        )

    def send_event(self, ev: wire.Event) -> None:
        self.publish(self.topic("event"), wire.encode(ev))

    def close(self) -> None:
        if self.client is not None:
            self.client.disconnect()  # first, so loop_stop need not wait out a select()
            self.client.loop_stop()
            self.client = None


@pytest.fixture
def stations(mosquitto: MosquittoBroker, site: str) -> Iterator[Callable[..., Station]]:
    made: list[Station] = []

    def make(station: str, broker: MosquittoBroker | None = None, **kwargs: Any) -> Station:
        s = Station(broker or mosquitto, site, station, **kwargs)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


class AckListener:
    """Subscribes to ack topics like an agent would, and records what arrives."""

    def __init__(self, broker: MosquittoBroker, topic: str) -> None:
        self.acks: list[wire.Ack] = []
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"acks-{uuid.uuid4().hex[:6]}"
        )
        self._client.on_message = lambda _c, _u, m: self.acks.append(
            wire.decode("ack", m.payload)
        )  # type: ignore[arg-type]
        subscribed: list[int] = []
        self._client.on_subscribe = lambda *a: subscribed.append(1)
        self._client.connect("127.0.0.1", broker.port)
        self._client.subscribe(topic, qos=1)
        self._client.loop_start()
        from tests.support.mosquitto import wait_for

        wait_for(lambda: subscribed, 5, what="ack subscription")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


Waiter = Callable[[], Awaitable[None]]
