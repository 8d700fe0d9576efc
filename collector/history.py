"""Write buffer between the ingest hot path and the SQLite store; acks follow commits.

The MQTT callback only appends to in-memory lists (microseconds); `run` flushes
them to the Store every `interval_s`, or sooner once `batch_size` items wait,
and only after the commit publishes the acks that batch earned. An ack tells
the agent it may delete its copy, so it must never run ahead of the disk.

When the store fails (disk full, I/O error, a data_dir it cannot open) the
rows stay here and the commit is retried with a growing delay (up to
`retry_max_s`); the failure is counted per operation and /readyz says so.
The backlog is bounded by `max_pending_rows`: once it is reached, `full`
turns true and ingest defers new events *before* the Fleet marks them as seen
— they are not acked, so the agents keep them and send them again (nothing
lost, only delayed) — and the oldest pending state changes are dropped and
counted, since nobody else holds a copy of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from collector.stats import StoreStats
from collector.store import EventRow, RejectedRow, Store, StoreError, TransitionLike
from collector.store_file import Marks
from pantau.log_throttle import LogThrottle
from pantau.wire import Event

log = logging.getLogger(__name__)

AckKey = tuple[str, str, str]  # (site, station, boot_id)
PublishAck = Callable[[str, str, str, int], None]  # (site, station, boot_id, seq)
# Called as a flush takes its batch; what it returns is called once that batch is committed.
DurableMark = Callable[[], Callable[[], None]]
DEFAULT_MAX_PENDING_ROWS = 100_000


@dataclass(slots=True)
class _Batch:
    events: list[EventRow] = field(default_factory=list)
    transitions: list[TransitionLike] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    acks: dict[AckKey, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.events) + len(self.transitions) + len(self.rejected)

    @property
    def empty(self) -> bool:
        return not (self.events or self.transitions or self.rejected or self.acks)

    def merge_older(self, older: _Batch) -> None:
        """Put a batch that failed to commit back in front of this one."""
        self.events[:0] = older.events
        self.transitions[:0] = older.transitions
        self.rejected[:0] = older.rejected
        for key, seq in older.acks.items():
            self.acks[key] = max(seq, self.acks.get(key, seq))


class History:
    def __init__(
        self,
        store: Store,
        stats: StoreStats | None = None,
        *,
        restore: Callable[[Marks], None] = lambda marks: None,
        interval_s: float = 0.5,
        batch_size: int = 5000,
        max_pending_rows: int = DEFAULT_MAX_PENDING_ROWS,
        retry_max_s: float = 5.0,
    ) -> None:
        self._store = store
        self.stats = stats if stats is not None else StoreStats()
        self._restore = restore  # gets the ack marks each time the store opens
        self._interval_s, self._retry_max_s = interval_s, retry_max_s
        self._batch_size = batch_size
        self._max_pending = max_pending_rows
        self._pending = _Batch()
        self._in_flight = 0  # rows of the batch being committed
        self._retry_in: float | None = None  # set while the store fails
        self._wake = asyncio.Event()
        self._throttle = LogThrottle(log)
        self.committed_rows = 0  # rows inserted (duplicates excluded), for tests and the bench
        # The ingest session's PUBACKs wait for the commit (collector/mqtt/paho_loop.py).
        self.durable_mark: DurableMark = lambda: lambda: None

    def wake(self) -> None:
        """Commit now rather than at the next interval (PUBACKs wait for it)."""
        if self._retry_in is not None:
            # The store fails: no commit comes soon, and waiting for one would stop the
            # broker's deliveries, the fleet view's included. PUBACK now, as before.
            self.durable_mark()()
            return
        self._wake.set()

    @property
    def full(self) -> bool:
        return len(self._pending) + self._in_flight >= self._max_pending

    @property
    def pending(self) -> int:
        return len(self._pending)

    def add_event(self, ev: Event, received: float) -> None:
        """A new event (the Fleet said so): store it in the next batch."""
        self._pending.events.append((
            ev.station, ev.site, ev.boot_id, ev.seq, ev.ts, received,
            ev.component, ev.from_, ev.to, ev.detail,
        ))
        self._added()

    def add_rejected(self, row: RejectedRow) -> None:
        """A refused event whose (boot_id, seq) was read: kept with its payload for replay."""
        self._pending.rejected.append(row)
        self._added()

    def add_ack(self, site: str, station: str, boot_id: str, seq: int) -> None:
        """Ack `seq` (cumulative) once everything buffered so far is committed."""
        key = (site, station, boot_id)
        self._pending.acks[key] = max(seq, self._pending.acks.get(key, seq))

    def add_transitions(self, transitions: Iterable[TransitionLike]) -> None:
        self._pending.transitions.extend(transitions)
        self._bound()

    def _added(self) -> None:
        pending = len(self._pending)
        self.stats.pending_rows = pending + self._in_flight
        if pending >= self._batch_size:
            self._wake.set()

    def _bound(self) -> None:
        over = len(self._pending) + self._in_flight - self._max_pending
        drop = min(over, len(self._pending.transitions))
        if drop > 0:
            del self._pending.transitions[:drop]
            self.stats.dropped_rows += drop
            self._throttle.warning("dropped", "history backlog full (%d rows): %d oldest state "
                                   "changes dropped", self._max_pending, drop)
        self.stats.pending_rows = len(self._pending) + self._in_flight

    # --- the store -------------------------------------------------------------

    async def open(self) -> bool:
        """Open the store and restore the ack marks; False (counted, logged) if it cannot."""
        try:
            opened = await self._store.open()
        except StoreError as exc:
            self._failed(exc, "history database cannot be opened, retrying; the fleet view "
                         "goes on and events wait unacked at the stations")
            return False
        finally:
            self.stats.resets = len(self._store.set_aside)
        self._restore(opened.marks)
        self.stats.problem = ""
        log.info("history at %s (%d event streams restored)", self._store.path, len(opened.marks))
        if opened.rejected_waiting:
            log.warning("%d refused events are stored for replay: once this collector accepts "
                        "them (after an upgrade), run `pantau-collector replay-rejected`",
                        opened.rejected_waiting)
        return True

    async def prune(self, now: float) -> None:
        """Apply the retention period; a failure is counted and logged, never raised."""
        try:
            deleted = await self._store.prune(now)
        except StoreError as exc:
            self.stats.error(exc.op, str(exc))
            self._throttle.warning("prune", "history retention not applied: %s", exc)
            return
        finally:
            self.stats.resets = len(self._store.set_aside)
        if deleted:
            log.info("history retention: %d old rows deleted", deleted)

    def _failed(self, exc: StoreError, what: str) -> None:
        self.stats.error(exc.op, str(exc))
        self._throttle.log(logging.ERROR, exc.op, "%s: %s", what, exc)
        delay = self._retry_in or self._interval_s
        self._retry_in = min(self._retry_max_s, 2 * delay)

    # --- flushing ----------------------------------------------------------------

    async def run(self, publish_ack: PublishAck) -> None:
        """Flush forever; on cancel, flush what is left once more."""
        try:
            while True:
                if self._retry_in is None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._interval_s)
                else:  # a failing store is retried on its own schedule, not per batch
                    await asyncio.sleep(self._retry_in)
                await self.flush(publish_ack)
        finally:
            await asyncio.shield(self.flush(publish_ack))

    async def flush(self, publish_ack: PublishAck) -> bool:
        """Commit what is pending, then publish its acks. False if the store refused."""
        self._wake.clear()
        durable = self.durable_mark()  # everything received so far is in this batch or older
        try:
            return await self._flush(publish_ack)
        finally:
            # PUBACK once the commit was tried: a kill -9 before it loses nothing, the broker
            # sends the messages again. A failed commit keeps its rows here, as before.
            durable()

    async def _flush(self, publish_ack: PublishAck) -> bool:
        if not self._store.is_open and not await self.open():
            return False
        batch, self._pending = self._pending, _Batch()
        if batch.empty:
            return True
        self._in_flight = len(batch)
        try:
            # The acks are the ledger's marks: persisted with the events they cover, so a
            # restarted collector neither acks a gap nor forgets what the agent dropped.
            marks = [(station, boot, seq) for (_, station, boot), seq in batch.acks.items()]
            self.committed_rows += await self._store.write(
                batch.events, batch.transitions, marks, batch.rejected)
        except StoreError as exc:
            self._in_flight = 0
            self._pending.merge_older(batch)
            self._bound()
            self._failed(exc, "history not saved, will retry")
            return False
        finally:
            self._in_flight = 0
            self.stats.resets = len(self._store.set_aside)
            self.stats.pending_rows = len(self._pending)
        self.stats.problem, self._retry_in = "", None
        for (site, station, boot_id), seq in batch.acks.items():
            publish_ack(site, station, boot_id, seq)
        return True
