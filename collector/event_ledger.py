"""Exactly-once bookkeeping for station events (a station's recent ones are read from
the history store: collector/recent_events.py).

An event is identified by `(station, boot_id, seq)`. Per `(station, boot_id)`
the ledger keeps the contiguous high-water mark (every seq up to it is stored,
or is gone from the agent) and the set of seqs received above it; the mark is
what the collector acks, so the agent deletes an event from its disk queue
only once it and everything before it is stored.

A boot never seen starts at mark 0: seqs start at 1, and seq 1 must arrive
before anything is acked. The first seq seen is NOT taken as the agent's
oldest: the broker may have dropped the ones before it, or this collector may
have PUBACKed them and died before committing them. Only the agent knows what
it still holds, and says so in `Event.oldest_pending`: everything below it was
acked or dropped by the agent's own bounds, so the mark may rise to
`oldest_pending - 1`. An event without it (an older agent) never raises the
mark: such a boot is acked only what is stored without a gap from seq 1.
Seq 0 is outside the chain: stored once if an agent sends it, never acked
until the mark passes it.

A history gap: `oldest_pending` lifts the mark past seqs this collector never
received. The agent no longer holds them, so they will never come: another
collector replica acked them while this one was away and its broker queue
overflowed, or the agent's own disk bounds dropped them. The result says how
many seqs were skipped (docs/replicas.md).

A skipped seq may still arrive: the broker redelivers what it sent to this
collector's previous connection (killed before its PUBACK) only after its ack
wait, by when the live events' `oldest_pending` has declared those seqs gone
(NATS: 30 s, tests/ha). Such a late event is stored, once, not taken for a
duplicate; the gap it was counted in stays counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from pantau import wire

# Old boots' marks are dropped beyond this; an agent replays at most its
# current and a few previous boots' queues, and a repeat after eviction is
# only a duplicate row (the store de-duplicates by key too).
BOOTS_PER_STATION: Final = 8
# Bounds memory against an agent that skips seqs; beyond this a new event is
# refused (not acked), so the agent simply sends it again later.
MAX_ABOVE_MARK: Final = 4096


@dataclass(slots=True)
class _BootMark:
    mark: int = 0
    # Seqs received above the mark. None while there are none, which is nearly always (events
    # arrive in order): an empty set costs 216 bytes per boot, at 10k stations 2 MB.
    above: set[int] | None = None
    # Seqs a history gap skipped: still stored if they arrive after all (see `late`).
    skipped: set[int] | None = None

    def raise_to(self, mark: int) -> None:
        """Everything up to `mark` is stored or gone; fold in what was above it."""
        above = self.above
        if mark > self.mark:
            self.mark = mark
            if above:
                above = {s for s in above if s > mark or s == 0}
        while above and self.mark + 1 in above:
            self.mark += 1
            above.discard(self.mark)
        self.above = above or None

    def add(self, seq: int) -> None:
        if seq == self.mark + 1 and not self.above:  # the common case: the next one, in order
            self.mark = seq
        elif self.above is None:
            self.above = {seq}
            self.raise_to(self.mark)
        else:
            self.above.add(seq)
            self.raise_to(self.mark)

    def missing_up_to(self, mark: int) -> int:
        """Seqs in (self.mark, mark] never received: what raising to `mark` skips."""
        if mark <= self.mark:
            return 0
        have = sum(1 for s in self.above if self.mark < s <= mark) if self.above else 0
        return mark - self.mark - have

    def skip_to(self, mark: int) -> None:
        """Remember the seqs raising to `mark` skips, the highest MAX_ABOVE_MARK at most."""
        skipped = self.skipped or set()
        first = max(self.mark + 1, mark - (MAX_ABOVE_MARK - len(skipped)) + 1)
        skipped.update(s for s in range(first, mark + 1) if not self.above or s not in self.above)
        self.skipped = skipped or None

    def late(self, seq: int) -> bool:
        """`seq` was skipped as a gap and has arrived after all: new, once."""
        if self.skipped is None or seq not in self.skipped:
            return False
        self.skipped.discard(seq)
        self.skipped = self.skipped or None
        return True

    def waiting(self) -> int:
        return len(self.above) if self.above else 0

    def has(self, seq: int) -> bool:
        return 0 < seq <= self.mark or (self.above is not None and seq in self.above)

    def has_zero(self) -> bool:
        return self.above is not None and 0 in self.above


@dataclass(frozen=True, slots=True)
class LedgerResult:
    new: bool
    ack_seq: int | None  # contiguous high-water mark; None when nothing to ack yet
    full: bool = False  # refused: too many seqs waiting above the mark
    gap: int = 0  # seqs skipped for good: the agent no longer holds them, we never had them


class EventLedger:
    def __init__(self) -> None:
        self._marks: dict[str, dict[str, _BootMark]] = {}

    def record(self, ev: wire.Event) -> LedgerResult:
        oldest = ev.oldest_pending if isinstance(ev.oldest_pending, int) else None
        return self.record_seq(ev.station, ev.boot_id, ev.seq, oldest)

    def record_seq(
        self, station: str, boot_id: str, seq: int, oldest_pending: int | None
    ) -> LedgerResult:
        """`record` for an event known only by its key (one the decoder refused, see
        collector.rejected)."""
        boot = self._boot(station, boot_id)
        gap = 0
        if oldest_pending is not None:  # None: an older agent makes no claim
            # Clamped: an agent that says it no longer holds the event it is sending
            # contradicts itself; the event is stored all the same.
            floor = min(oldest_pending, seq) - 1
            gap = boot.missing_up_to(floor)
            if gap:
                boot.skip_to(floor)
            boot.raise_to(floor)
        if boot.late(seq):
            return LedgerResult(True, _ack(boot), gap=gap)
        if boot.has(seq):
            return LedgerResult(False, _ack(boot), gap=gap)
        if boot.waiting() >= MAX_ABOVE_MARK and seq != boot.mark + 1:
            return LedgerResult(False, _ack(boot), full=True, gap=gap)
        boot.add(seq)
        return LedgerResult(True, _ack(boot), gap=gap)

    def restore(self, marks: Mapping[tuple[str, str], int]) -> None:
        """Marks persisted by the store; never moves a mark backwards."""
        for (station, boot_id), mark in marks.items():
            self._boot(station, boot_id).raise_to(mark)

    def mark(self, station: str, boot_id: str) -> int | None:
        boot = self._marks.get(station, {}).get(boot_id)
        return None if boot is None else _ack(boot)

    def _boot(self, station: str, boot_id: str) -> _BootMark:
        boots = self._marks.setdefault(station, {})
        boot = boots.pop(boot_id, None)
        if boot is None:
            boot = _BootMark()  # see the module docstring: never "first seen - 1"
            if len(boots) >= BOOTS_PER_STATION:
                del boots[next(iter(boots))]
        boots[boot_id] = boot  # re-insert: dict order doubles as least-recently-used
        return boot


def _ack(boot: _BootMark) -> int | None:
    if boot.mark > 0:
        return boot.mark
    return 0 if boot.has_zero() else None  # an ack of 0 only means something for seq 0
