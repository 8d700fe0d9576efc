"""Which queued events are on their way, and when to send them again.

A PUBACK only means the broker holds the message in memory, so an event is
"in flight" from the moment it is handed to the MQTT client until the
collector's ack deletes it from the queue. If the oldest event in flight waits
longer than the ack timeout (the broker or the collector may have dropped it),
everything unacked is sent again from the oldest, in order (go-back-N): the
collector de-duplicates by (station, boot_id, seq), so repeats are harmless
and order is kept. No paho here: the publisher passes in a `send` function.

Every event leaves stamped with `oldest_pending`: the lowest seq of its boot
still in the queue at send time (see docs/protocol.md). The queue keeps the
payload as it was appended, so the stamp is re-encoded at each send; events
are rare, and a stamp taken earlier could claim events gone that are not.
The ack timer runs on the monotonic clock: a station clock set back must not
stall resends, nor one set ahead trigger them all at once.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Literal

import msgspec

from agent.journal import EventJournal, JournaledEvent
from pantau import wire

log = logging.getLogger(__name__)

Send = Callable[[JournaledEvent], bool]  # True when handed to the client


class Outbox:
    def __init__(
        self,
        queue: EventJournal,
        monotonic: Callable[[], float] = time.monotonic,
        *,
        ack_timeout_s: float = 30.0,
        max_unacked: int = 500,
        max_payload_bytes: int,
    ) -> None:
        self._queue = queue
        self._clock = monotonic
        self._ack_timeout_s = ack_timeout_s
        self._max_unacked = max_unacked  # bounds what sits in paho's memory at once
        self._max_payload_bytes = max_payload_bytes
        self._lock = threading.Lock()  # one sender at a time keeps the order on the wire
        self._in_flight: OrderedDict[tuple[str, int], float] = OrderedDict()
        self._cursor = 0  # rowid of the last event handed to the client
        self.sent = 0
        self.resends = 0
        self.oversize_dropped = 0

    def restart(self) -> None:
        """A new connection: nothing is in flight any more, replay from the oldest."""
        with self._lock:
            self._in_flight.clear()
            self._cursor = 0

    def flush(self, send: Send) -> int:
        """Hand queued events not yet in flight to `send`, oldest first; returns how many."""
        with self._lock:
            self._resend_if_overdue()
            oldest: dict[str, int] = {}  # per boot, taken once per flush (see _stamped)
            handed = 0
            while len(self._in_flight) < self._max_unacked:
                room = self._max_unacked - len(self._in_flight)
                batch = self._queue.pending(limit=min(room, 100), after_rowid=self._cursor)
                if not batch:
                    break
                for event in batch:
                    outcome = self._send_one(event, send, oldest)
                    if outcome == "blocked":
                        self.sent += handed
                        return handed
                    handed += outcome == "sent"
            self.sent += handed
            return handed

    def _send_one(
        self, event: JournaledEvent, send: Send, oldest: dict[str, int]
    ) -> Literal["sent", "dropped", "blocked"]:
        if len(event.payload) > self._max_payload_bytes:
            # Never hand an oversized payload to paho (it can kill its network thread).
            self._queue.discard(event.boot_id, event.seq)
            self.oversize_dropped += 1
            log.error("event %s/%s is %d bytes, over the %d-byte cap: dropped",
                      event.boot_id, event.seq, len(event.payload), self._max_payload_bytes)
            self._cursor = event.rowid
            return "dropped"
        if not send(self._stamped(event, oldest)):
            return "blocked"
        self._in_flight[(event.boot_id, event.seq)] = self._clock()
        self._cursor = event.rowid
        return "sent"

    def _stamped(self, event: JournaledEvent, oldest: dict[str, int]) -> JournaledEvent:
        """`event` with `oldest_pending` set; unchanged if it cannot be (then the
        collector stays conservative: it acks only what it stored without a gap)."""
        if event.boot_id not in oldest:
            # Taken once per flush under our lock, so no ack runs in between; the queue's
            # bounds may drop more meanwhile, which only makes this value low (safe).
            held = self._queue.oldest_seq(event.boot_id)
            oldest[event.boot_id] = event.seq if held is None else held
        try:
            msg = wire.decode("event", event.payload, self._max_payload_bytes)
            if not isinstance(msg, wire.Event):
                return event
            stamp = min(oldest[event.boot_id], event.seq)
            data = wire.encode(msgspec.structs.replace(msg, oldest_pending=stamp),
                                   limit=self._max_payload_bytes)
        except (wire.Rejected, wire.PayloadTooLarge) as exc:
            log.warning("event %s/%s sent without oldest_pending: %s",
                        event.boot_id, event.seq, exc)
            return event
        return dataclasses.replace(event, payload=data)

    def _resend_if_overdue(self) -> None:
        if not self._in_flight:
            return
        oldest = next(iter(self._in_flight.values()))
        if self._clock() - oldest < self._ack_timeout_s:
            return
        log.warning("no ack for %d events within %.0f s: sending them again from the oldest",
                    len(self._in_flight), self._ack_timeout_s)
        self.resends += 1
        self._in_flight.clear()
        self._cursor = 0

    def on_ack(self, boot_id: str, seq: int) -> int:
        """The collector stored `boot_id`'s events up to `seq`: delete them; returns count."""
        with self._lock:
            deleted = self._queue.ack(boot_id, seq)
            for key in [k for k in self._in_flight if k[0] == boot_id and k[1] <= seq]:
                del self._in_flight[key]
        return deleted

    def take_counts(self) -> tuple[int, int]:
        """(resends, oversize_dropped) since the last call, for the publisher's stats."""
        with self._lock:
            counts = (self.resends, self.oversize_dropped)
            self.resends = self.oversize_dropped = 0
        return counts

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)
