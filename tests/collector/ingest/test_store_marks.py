"""Ack marks survive a collector restart exactly: persisted with the events they cover,
never a gap, never moved back, and what a killed collector never committed is not acked."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from collector.fleet import Fleet
from collector.history import History
from collector.registry import Registry
from collector.store import Store
from pantau import wire


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def event(seq: int, boot: str = "b1", oldest: int | None = None) -> wire.Event:
    ev = wire.Event(v=1, site="s1", station="st-1", boot_id=boot, seq=seq, ts=1.0,
                        component="iris", from_="ok", to="missing")
    return ev if oldest is None else msgspec.structs.replace(ev, oldest_pending=oldest)


def row(seq: int, boot: str = "b1") -> tuple[str, str, str, int, float, float, str, str, str, str]:
    return ("st-1", "s1", boot, seq, 1.0, 1.0, "iris", "ok", "missing", "")


async def opened(path: Path, clock: Clock | None = None) -> Store:
    store = Store(path, retention_days=1.0, clock=clock or Clock())
    await store.open()
    return store


def take(fleet: Fleet, history: History, ev: wire.Event) -> int | None:
    """What the dispatcher does with one event (collector.dispatch)."""
    out = fleet.apply_event(ev, 1.0)
    if out.new:
        history.add_event(ev, 1.0)
    if out.ack_seq is not None:
        history.add_ack("s1", ev.station, ev.boot_id, out.ack_seq)
    return out.ack_seq


@pytest.mark.parametrize(("stored", "marks", "expected"), [
    ([1, 2, 4], [], {("st-1", "b1"): 2}),  # the gap at 3 is never acked (not MAX(seq) = 4)
    ([5, 6], [], {}),  # 1..4 may have been dropped by the broker: nothing is known stored
    ([5, 6], [("st-1", "b1", 6)], {("st-1", "b1"): 6}),  # the agent said 1..4 were gone
    ([1, 2, 3], [("st-1", "b1", 1)], {("st-1", "b1"): 3}),  # the higher bound wins
    ([0, 1], [], {("st-1", "b1"): 1}),
])
async def test_restored_marks(
    tmp_path: Path, stored: list[int], marks: list[tuple[str, str, int]],
    expected: dict[tuple[str, str], int],
) -> None:
    store = await opened(tmp_path)
    await store.write([row(s) for s in stored], [], marks)
    await store.close()
    again = await opened(tmp_path)  # a restart reads what is on disk
    assert again.event_marks() == expected
    await again.close()


async def test_a_mark_never_moves_back(tmp_path: Path) -> None:
    store = await opened(tmp_path)
    await store.write([], [], [("st-1", "b1", 9)])
    await store.write([], [], [("st-1", "b1", 4), ("st-1", "b2", 2)])
    assert store.event_marks() == {("st-1", "b1"): 9, ("st-1", "b2"): 2}
    await store.close()


async def test_marks_of_boots_quiet_beyond_retention_are_pruned(tmp_path: Path) -> None:
    clock = Clock()
    store = await opened(tmp_path, clock)
    await store.write([], [], [("st-1", "old", 5)])
    clock.now += 2 * 86400.0
    await store.write([], [], [("st-1", "live", 7)])
    await store.prune(now=clock.now)
    assert store.event_marks() == {("st-1", "live"): 7}
    await store.close()


async def test_events_received_but_not_committed_at_a_kill_are_not_acked_after_it(
    tmp_path: Path
) -> None:
    store = await opened(tmp_path)
    fleet, history = Fleet(Registry({}, {}), now=0.0), History(store)
    sent: list[tuple[str, str, str, int]] = []
    for seq in (1, 2):
        take(fleet, history, event(seq, oldest=1))
    assert await history.flush(lambda *a: sent.append(a))
    for seq in (3, 4):  # PUBACKed by the broker, buffered, then SIGKILL: never committed
        take(fleet, history, event(seq, oldest=1))
    await store.close()

    store = await opened(tmp_path)
    fleet, history = Fleet(Registry({}, {}), now=0.0), History(store)
    fleet.restore_event_marks(store.event_marks())
    assert take(fleet, history, event(5, oldest=3)) == 2  # not 5: 3 and 4 are not stored
    assert take(fleet, history, event(3, oldest=3)) == 3  # the agent's resend fills the gap
    assert take(fleet, history, event(4, oldest=3)) == 5
    assert await history.flush(lambda *a: sent.append(a))
    assert sent == [("s1", "st-1", "b1", 2), ("s1", "st-1", "b1", 5)]
    assert store.event_marks() == {("st-1", "b1"): 5}
    assert sorted(e.seq for e in store.events()) == [1, 2, 3, 4, 5]
    await store.close()
