"""Write buffer between the ingest hot path and the SQLite store; acks follow commits.

The MQTT callback only appends to in-memory lists (microseconds); `run` flushes
them to the Store every `interval_s`, or sooner once `batch_size` items wait,
and only after the commit publishes the acks that batch earned. An ack tells
the agent it may delete its copy, so it must never run ahead of the disk.

If the store cannot keep up, `full` turns true and ingest drops new events
*before* the Fleet marks them as seen: they are not acked, so the agents keep
them and send them again — nothing is lost, only delayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from collector.store import EventRow, Store, StoreError, TransitionLike
from pantau.log_throttle import LogThrottle
from pantau.wire import Event

log = logging.getLogger(__name__)

AckKey = tuple[str, str, str]  # (site, station, boot_id)
PublishAck = Callable[[str, str, str, int], None]  # (site, station, boot_id, seq)


@dataclass(slots=True)
class _Batch:
    events: list[EventRow] = field(default_factory=list)
    transitions: list[TransitionLike] = field(default_factory=list)
    acks: dict[AckKey, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.events) + len(self.transitions)

    def merge_older(self, older: _Batch) -> None:
        """Put a batch that failed to commit back in front of this one."""
        self.events[:0] = older.events
        self.transitions[:0] = older.transitions
        for key, seq in older.acks.items():
            self.acks[key] = max(seq, self.acks.get(key, seq))


class History:
    def __init__(
        self,
        store: Store,
        *,
        interval_s: float = 0.5,
        batch_size: int = 5000,
        max_pending: int = 200_000,
    ) -> None:
        self._store = store
        self._interval_s = interval_s
        self._batch_size = batch_size
        self._max_pending = max_pending
        self._pending = _Batch()
        self._wake = asyncio.Event()
        self._throttle = LogThrottle(log)
        self.committed_rows = 0  # rows inserted (duplicates excluded), for tests and the bench

    @property
    def full(self) -> bool:
        return len(self._pending) >= self._max_pending

    @property
    def pending(self) -> int:
        return len(self._pending)

    def add_event(self, ev: Event, received: float) -> None:
        """A new event (the Fleet said so): store it in the next batch."""
        self._pending.events.append((
            ev.station, ev.site, ev.boot_id, ev.seq, ev.ts, received,
            ev.component, ev.from_, ev.to, ev.detail,
        ))
        if len(self._pending) >= self._batch_size:
            self._wake.set()

    def add_ack(self, site: str, station: str, boot_id: str, seq: int) -> None:
        """Ack `seq` (cumulative) once everything buffered so far is committed."""
        key = (site, station, boot_id)
        self._pending.acks[key] = max(seq, self._pending.acks.get(key, seq))

    def add_transitions(self, transitions: Iterable[TransitionLike]) -> None:
        self._pending.transitions.extend(transitions)

    async def run(self, publish_ack: PublishAck) -> None:
        """Flush forever; on cancel, flush what is left once more."""
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._interval_s)
                await self.flush(publish_ack)
        finally:
            await asyncio.shield(self.flush(publish_ack))

    async def flush(self, publish_ack: PublishAck) -> bool:
        """Commit what is pending, then publish its acks. False if the store refused."""
        self._wake.clear()
        batch, self._pending = self._pending, _Batch()
        if not batch.events and not batch.transitions and not batch.acks:
            return True
        try:
            # The acks are the ledger's marks: persisted with the events they cover, so a
            # restarted collector neither acks a gap nor forgets what the agent dropped.
            marks = [(station, boot, seq) for (_, station, boot), seq in batch.acks.items()]
            self.committed_rows += await self._store.write(batch.events, batch.transitions,
                                                           marks)
        except StoreError as exc:
            self._throttle.warning("store", "history not saved, will retry: %s", exc)
            self._pending.merge_older(batch)
            return False
        for (site, station, boot_id), seq in batch.acks.items():
            publish_ack(site, station, boot_id, seq)
        return True
