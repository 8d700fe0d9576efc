"""Exactly-once bookkeeping for station events, and the last few per station.

An event is identified by `(station, boot_id, seq)`. Per `(station, boot_id)`
the ledger keeps the contiguous high-water mark (every seq up to it is stored)
and the set of seqs received above it; the mark is what the collector acks, so
the agent deletes an event from its disk queue only once it and everything
before it is stored.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from agent import protocol

RECENT_EVENTS: Final = 20
# Old boots' marks are dropped beyond this; an agent replays at most its
# current and a few previous boots' queues, and a repeat after eviction is
# only a duplicate row (the store de-duplicates by key too).
BOOTS_PER_STATION: Final = 8
# Bounds memory against an agent that skips seqs; beyond this a new event is
# refused (not acked), so the agent simply sends it again later.
MAX_ABOVE_MARK: Final = 4096


@dataclass(slots=True)
class _BootMark:
    mark: int
    above: set[int]


@dataclass(frozen=True, slots=True)
class LedgerResult:
    new: bool
    ack_seq: int | None  # contiguous high-water mark; None when nothing to ack yet
    full: bool = False  # refused: too many seqs waiting above the mark


class EventLedger:
    def __init__(self) -> None:
        self._marks: dict[str, dict[str, _BootMark]] = {}
        self._recent: dict[str, deque[protocol.Event]] = {}

    def record(self, ev: protocol.Event) -> LedgerResult:
        boot = self._boot(ev.station, ev.boot_id, first_seq=ev.seq)
        if ev.seq <= boot.mark or ev.seq in boot.above:
            return LedgerResult(False, _ack(boot))
        if len(boot.above) >= MAX_ABOVE_MARK and ev.seq != boot.mark + 1:
            return LedgerResult(False, _ack(boot), full=True)
        boot.above.add(ev.seq)
        while boot.mark + 1 in boot.above:
            boot.mark += 1
            boot.above.discard(boot.mark)
        recent = self._recent.get(ev.station)
        if recent is None:
            recent = self._recent[ev.station] = deque(maxlen=RECENT_EVENTS)
        recent.append(ev)
        return LedgerResult(True, _ack(boot))

    def restore(self, marks: Mapping[tuple[str, str], int]) -> None:
        """Marks persisted by the store; never moves a mark backwards."""
        for (station, boot_id), mark in marks.items():
            boot = self._boot(station, boot_id, first_seq=mark + 1)
            if mark > boot.mark:
                boot.mark = mark
                boot.above = {s for s in boot.above if s > mark}
                while boot.mark + 1 in boot.above:
                    boot.mark += 1
                    boot.above.discard(boot.mark)

    def mark(self, station: str, boot_id: str) -> int | None:
        boot = self._marks.get(station, {}).get(boot_id)
        return None if boot is None else _ack(boot)

    def recent(self, station: str) -> list[protocol.Event]:
        return list(self._recent.get(station, ()))

    def _boot(self, station: str, boot_id: str, *, first_seq: int) -> _BootMark:
        boots = self._marks.setdefault(station, {})
        boot = boots.pop(boot_id, None)
        if boot is None:
            # The agent replays oldest-first, so the first seq seen of a boot
            # is its oldest pending event.
            boot = _BootMark(first_seq - 1, set())
            if len(boots) >= BOOTS_PER_STATION:
                del boots[next(iter(boots))]
        boots[boot_id] = boot  # re-insert: dict order doubles as least-recently-used
        return boot


def _ack(boot: _BootMark) -> int | None:
    return boot.mark if boot.mark >= 0 else None
