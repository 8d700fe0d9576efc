"""Thousands of lightweight stations on one asyncio loop, reconnecting like the agent.

Each station follows agent/mqtt/publisher.py's supervisor exactly where the storm
depends on it: connect at once on start; when a connection ends, reset the
REAL `pantau.backoff.Backoff` if it had been up for at least
max(reconnect_max_s, keepalive_s), then sleep `next_delay()` before the next
attempt. Birth/Will/heartbeat/event payloads are real `pantau.wire` Structs.

Events follow the agent's delivery rules (docs/protocol.md, "Event delivery
and acks"): numbered 1, 2, 3 … per boot, kept until the collector acks them
(each station subscribes to its own `ack` topic), sent again after every
reconnect, each send carrying `oldest_pending`; past `MAX_UNACKED` the oldest
is dropped and counted, like the agent's queue bounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Final

from msgspec.structs import replace

from pantau import wire
from pantau.backoff import Backoff
from tests.load.mqtt_lite import LiteConnection, MqttRefused

MAX_UNACKED: Final = 1000


@dataclass(frozen=True)
class FleetSettings:
    host: str
    port: int
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    keepalive_s: float = 30.0  # only for the agent's backoff-reset rule
    heartbeat_s: float = 15.0
    event_every_s: float = 0.0  # 0: no events
    drop_every_s: float = 0.0  # mean time between random connection drops; 0: never
    ack_timeout_s: float = 30.0  # the agent's: unacked events are sent again after this


@dataclass
class LiteStation:
    site: str
    station: str
    settings: FleetSettings
    rng: random.Random
    boot_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    session: int = 0
    hb_seq: int = 0
    ev_seq: int = 0
    unacked: dict[int, wire.Event] = field(default_factory=dict)  # seq -> event, oldest first
    acks: int = 0  # acks received for this boot
    dropped: int = 0  # events dropped unacked past MAX_UNACKED
    connects: list[float] = field(default_factory=list)  # monotonic time of each CONNACK
    delays: list[float] = field(default_factory=list)  # every backoff delay drawn
    conn: LiteConnection | None = None
    faults: bool = True  # cleared at the end of a soak so every station can settle

    def topic(self, kind: wire.MessageKind) -> str:
        return wire.topic_for(self.site, self.station, kind)

    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        backoff = Backoff(s.reconnect_min_s, s.reconnect_max_s, self.rng)
        while not stop.is_set():
            connected_for = await self._one_connection(stop)
            if stop.is_set():
                return
            if connected_for >= max(s.reconnect_max_s, s.keepalive_s):
                backoff.reset()
            delay = backoff.next_delay()
            self.delays.append(delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def _one_connection(self, stop: asyncio.Event) -> float:
        self.session += 1
        will = wire.Status(state="lost", boot_id=self.boot_id, session=self.session)
        try:
            conn = await LiteConnection.open(
                self.settings.host, self.settings.port, f"lite-{self.station}",
                will=(self.topic("status"), wire.encode(will)))
        except (OSError, MqttRefused):
            return 0.0
        started = time.monotonic()
        self.connects.append(started)
        self.conn = conn
        birth = wire.Status(state="online", boot_id=self.boot_id, session=self.session,
                                ts=time.time())
        conn.publish(self.topic("status"), wire.encode(birth), retain=True)
        conn.subscribe(self.topic("ack"))
        for ev in list(self.unacked.values()):  # the agent replays its queue after a reconnect
            self._send(conn, ev)
        chatter = asyncio.ensure_future(self._chatter(conn))
        try:
            await conn.drain_until_closed(self._on_message)
        except OSError:
            pass
        finally:
            chatter.cancel()
            self.conn = None
        return time.monotonic() - started

    async def _chatter(self, conn: LiteConnection) -> None:
        """Heartbeats, events and random drops while connected."""
        s = self.settings
        next_hb = next_event = next_drop = time.monotonic()
        next_resend = next_hb + s.ack_timeout_s
        next_event += self.rng.expovariate(1 / s.event_every_s) if s.event_every_s else 1e18
        next_drop += self.rng.expovariate(1 / s.drop_every_s) if s.drop_every_s else 1e18
        while True:
            now = time.monotonic()
            if now >= next_drop and self.faults:
                conn.abort()  # the fault: a dead link; the broker sends our Will
                return
            if now >= next_hb:
                self.hb_seq += 1
                conn.publish(self.topic("heartbeat"), wire.encode(self.heartbeat()),
                             qos=1, retain=True)
                next_hb = now + s.heartbeat_s
            if now >= next_resend:  # an ack may have been lost: the agent sends again too
                for ev in list(self.unacked.values()):
                    self._send(conn, ev)
                next_resend = now + s.ack_timeout_s
            if now >= next_event:
                self._send(conn, self.event())
                next_event = now + self.rng.expovariate(1 / s.event_every_s)
            await asyncio.sleep(max(0.05, min(next_hb, next_event, next_drop, next_resend) - now))

    def heartbeat(self) -> wire.Heartbeat:
        return wire.Heartbeat(
            v=1, site=self.site, station=self.station, seq=self.hb_seq, boot_id=self.boot_id,
            ts=time.time(), interval_s=self.settings.heartbeat_s,
            agent=wire.AgentInfo(version="lite", uptime_s=float(self.hb_seq)),
            components=[wire.Component(id="fingerprint", kind="usb", required=True,
                                           status="ok", since=1.7e9)],
            checks=[], unexpected=[],
        )

    def event(self) -> wire.Event:
        """The next event of this boot, kept until acked (the oldest dropped past the bound)."""
        self.ev_seq += 1
        up = self.ev_seq % 2 == 0
        ev = wire.Event(v=1, site=self.site, station=self.station, boot_id=self.boot_id,
                        seq=self.ev_seq, ts=time.time(), component="fingerprint",
                        from_="missing" if up else "ok", to="ok" if up else "missing")
        self.unacked[ev.seq] = ev
        if len(self.unacked) > MAX_UNACKED:
            del self.unacked[next(iter(self.unacked))]
            self.dropped += 1
        return ev

    def _send(self, conn: LiteConnection, ev: wire.Event) -> None:
        oldest = next(iter(self.unacked), ev.seq)  # set at send time, as the agent does
        conn.publish(self.topic("event"), wire.encode(replace(ev, oldest_pending=oldest)), qos=1)

    def _on_message(self, topic: str, payload: bytes) -> None:
        if topic != self.topic("ack"):
            return
        ack = wire.decode("ack", payload)
        assert isinstance(ack, wire.Ack)
        if ack.boot_id != self.boot_id:
            return
        self.acks += 1
        for seq in [s for s in self.unacked if s <= ack.seq]:
            del self.unacked[seq]


def make_fleet(count: int, settings: FleetSettings, seed: int) -> list[LiteStation]:
    sites = max(1, count // 100)
    return [LiteStation(f"site-{n % sites:03d}", f"lite-{n:05d}", settings,
                        random.Random(seed * 100_003 + n)) for n in range(count)]


async def start_fleet(stations: list[LiteStation], stop: asyncio.Event,
                      ramp_s: float) -> list[asyncio.Task[None]]:
    """Start every station, spread over `ramp_s` so the first connect is not a storm."""
    tasks = []
    for n, st in enumerate(stations):
        tasks.append(asyncio.ensure_future(st.run(stop)))
        if ramp_s and n % 50 == 49:
            await asyncio.sleep(ramp_s * 50 / len(stations))
    return tasks


async def stop_fleet(stations: list[LiteStation], stop: asyncio.Event,
                     tasks: list[asyncio.Task[None]]) -> None:
    """Stop reconnecting and close every live connection cleanly (no Will)."""
    stop.set()
    for st in stations:
        if st.conn is not None:
            await st.conn.disconnect()
    await asyncio.gather(*tasks, return_exceptions=True)
