"""People's repair writes, passed between collector replicas over MQTT (docs/replicas.md).

A write accepted by `POST /api/v1/repairs/{id}` on one replica is published
(QoS 1, not retained) on `{topic_root}/collector/repairs`, which the ACL gives
collector accounts only. Every replica subscribes to it in its persistent
session, so a replica that is down gets the writes when it comes back, and
applies the others' writes to its own asset database with the writer's user and
time. Repair ids are derived from (station, role, opened_at), so the id names the
same record everywhere. A write for a record this replica has not listed yet (it
lists a record `min_open_s` after it noticed it) is held and retried for
HOLD_S; one that never finds its record is dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Final

import msgspec
from aiohttp import web

from collector.app_keys import ASSETS_KEY
from collector.asset_feed import AssetFeed
from collector.config import CollectorConfig
from collector.exposition_text import Family, line
from collector.mqtt.session import IngestSession
from collector.store_assets import RepairEdit
from collector.store_assets_read import AssetReader, AssetStoreError
from pantau.log_throttle import LogThrottle

log = logging.getLogger(__name__)

HOLD_S: Final = 3600.0  # a write waits this long for its record to be listed here
MAX_HELD: Final = 10_000  # writes held at once; bounds memory against a flood
RETRY_S: Final = 5.0
RESULTS: Final = ("sent", "applied", "invalid", "unknown_repair")
WRITES: Final = Family(
    "pantau_collector_repair_writes_total", "counter",
    "People's repair writes passed between collector replicas, by result: sent (made "
    "here), applied (made on another replica), invalid (refused), unknown_repair (its "
    "record never appeared here within an hour).",
)
Publish = Callable[[str, bytes], None]


class RepairWrite(msgspec.Struct, forbid_unknown_fields=True):
    v: int
    origin: str  # the replica's client id: a replica skips its own writes
    id: str
    by: str
    at: float
    ordered_at: float | None = None
    ticket: str | None = None
    note: str | None = None

    @property
    def edit(self) -> RepairEdit:
        return RepairEdit(self.ordered_at, self.ticket, self.note)


def repairs_topic(topic_root: str) -> str:
    return f"{topic_root}/collector/repairs"


@dataclass(slots=True)
class _Held:
    write: RepairWrite
    until: float  # monotonic


class RepairSync:
    def __init__(self, origin: str, feed: AssetFeed, validate: Callable[[RepairWrite], bool],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.origin = origin
        self.results: Counter[str] = Counter()
        self.publish: Publish | None = None  # the MQTT session's (install_repair_sync)
        self.topic = ""
        self._feed = feed
        self._validate = validate
        self._clock = clock
        self._queue: list[_Held] = []
        self._wake = asyncio.Event()
        self._throttle = LogThrottle(log)

    @property
    def held(self) -> int:
        """Writes of other replicas waiting to be applied here."""
        return len(self._queue)

    def sent(self, repair_id: str, edit: RepairEdit, user: str, at: float) -> None:
        """A write made here: tell the other replicas."""
        write = RepairWrite(1, self.origin, repair_id, user, at, edit.ordered_at, edit.ticket,
                            edit.note)
        if self.publish is not None:
            self.publish(self.topic, msgspec.json.encode(write))
        self.results["sent"] += 1

    def received(self, payload: bytes) -> None:
        """From the MQTT session (loop thread): queue another replica's write."""
        try:
            write = msgspec.json.decode(payload, type=RepairWrite)
        except msgspec.DecodeError as exc:
            self._refuse(f"undecodable: {exc}")
            return
        if write.origin == self.origin:
            return  # our own, back from the broker
        if write.v != 1 or not self._validate(write):
            self._refuse(f"repair write {write.id[:40]!r} from {write.origin[:64]!r} is not "
                         "a valid edit")
            return
        if len(self._queue) >= MAX_HELD:
            self._refuse("too many repair writes held")
            return
        self._queue.append(_Held(write, self._clock() + HOLD_S))
        self._wake.set()

    def _refuse(self, why: str) -> None:
        self.results["invalid"] += 1
        self._throttle.warning("invalid", "repair write refused: %s", why[:300])

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), RETRY_S)
            self._wake.clear()
            try:
                await self.step()
            except AssetStoreError as exc:  # the database is down: the writes wait
                self._throttle.warning("store", "repair writes wait: %s", exc)
            except Exception:  # a bug must not end the replication for good
                log.exception("applying repair writes failed; retrying")

    async def step(self) -> None:
        """Apply the held writes in order; keep those whose record is not here yet."""
        queue, self._queue = self._queue, []
        try:
            while queue:
                held = queue[0]
                if not await self._apply(held.write):
                    if self._clock() < held.until:
                        self._queue.append(held)
                    else:
                        self.results["unknown_repair"] += 1
                        log.warning("repair write for %s dropped: no such repair here after "
                                    "%gs", held.write.id, HOLD_S)
                queue.pop(0)
        finally:
            self._queue[:0] = queue  # on a store error: nothing lost, order kept

    async def _apply(self, write: RepairWrite) -> bool:
        store = self._feed.store
        if not await store.update_repair(write.id, write.edit, write.by, write.at):
            return False
        stored = await asyncio.to_thread(AssetReader(store.path).repair, write.id)
        if stored is not None:
            self._feed.repairs.take_edit(write.id, stored)
        self.results["applied"] += 1
        log.info("repair %s: edit by %s applied from replica %s", write.id, write.by,
                 write.origin)
        return True

    def metrics_text(self) -> str:
        return WRITES.header + "".join(
            line(WRITES.name, f'result="{r}"', self.results[r]) for r in RESULTS)


REPAIR_SYNC_KEY: Final = web.AppKey("pantau_repair_sync", RepairSync)


def install_repair_sync(app: web.Application, session: IngestSession, config: CollectorConfig,
                        validate: Callable[[RepairWrite], bool]) -> RepairSync:
    sync = RepairSync(str(config.broker.client_id), app[ASSETS_KEY], validate)
    sync.topic, sync.publish = repairs_topic(config.topic_root), session.publish
    session.add_topic(sync.topic, sync.received)
    app[REPAIR_SYNC_KEY] = sync

    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.ensure_future(sync.run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(ctx)
    return sync
