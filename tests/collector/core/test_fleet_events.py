"""Event de-duplication and cumulative ack marks per (station, boot_id)."""

from __future__ import annotations

import msgspec
import pytest

from collector.fleet import EventOutcome, Fleet
from collector.registry import Registry, SiteInfo, StationEntry
from pantau import wire
from tests.collector.core.messages import SITE, event

REGISTRY = Registry(
    {SITE: SiteInfo(SITE, "Medan Baru", "")},
    {
        "st-01": StationEntry("st-01", SITE, "", "active"),
        "old-01": StationEntry("old-01", SITE, "", "retired"),
    },
)


def outcome(out: EventOutcome) -> tuple[bool, bool, int | None, str]:
    return out.accepted, out.new, out.ack_seq, out.reason


Send = int | tuple[int, int]  # seq, or (seq, oldest_pending)


def ev(item: Send) -> wire.Event:
    if isinstance(item, int):
        return event(item)  # an older agent: no oldest_pending
    seq, oldest = item
    return msgspec.structs.replace(event(seq), oldest_pending=oldest)


@pytest.mark.parametrize(
    ("sends", "expected"),
    [
        # a gap holds the ack at the contiguous mark until it is filled
        ([1, 2, 4, 3], [(True, True, 1, ""), (True, True, 2, ""), (True, True, 2, ""),
                        (True, True, 4, "")]),
        # repeats are acknowledged again (the agent may have missed the ack) but not new
        ([1, 2, 2, 1], [(True, True, 1, ""), (True, True, 2, ""), (True, False, 2, "duplicate"),
                        (True, False, 2, "duplicate")]),
        # a boot first seen at 5 acks nothing until 1..4 arrive: the broker may have dropped
        # them, or a collector killed before its commit may have PUBACKed them
        ([5, 7, 7, 6], [(True, True, None, ""), (True, True, None, ""),
                        (True, False, None, "duplicate"), (True, True, None, "")]),
        ([5, 3, 1, 2, 4], [(True, True, None, ""), (True, True, None, ""), (True, True, 1, ""),
                           (True, True, 3, ""), (True, True, 5, "")]),
        # ... or until the agent says it no longer holds them (acked or dropped by its bounds)
        ([(40, 40), (41, 40)], [(True, True, 40, ""), (True, True, 41, "")]),
        ([(5, 1), (6, 5)], [(True, True, None, ""), (True, True, 6, "")]),
        # a stale oldest_pending (sent before an ack arrived) never moves the mark back
        ([(1, 1), (2, 1), (3, 3), (4, 1)], [(True, True, 1, ""), (True, True, 2, ""),
                                            (True, True, 3, ""), (True, True, 4, "")]),
        # a resend of an event the agent still holds, with a higher claim, folds in what
        # was above: 12 was stored, 10 and 11 are gone from the agent
        ([(12, 1), (12, 12)], [(True, True, None, ""), (True, False, 12, "duplicate")]),
        # an agent cannot claim the event it sends is gone: it is stored all the same
        ([(3, 9)], [(True, True, 3, "")]),
        # seq 0 (outside the 1, 2, 3 ... chain) is stored once, acked by itself
        ([0, 0, 1], [(True, True, 0, ""), (True, False, 0, "duplicate"), (True, True, 1, "")]),
        # an event below the mark, stored already, is a duplicate
        ([9, (10, 10), 9], [(True, True, None, ""), (True, True, 10, ""),
                            (True, False, 10, "duplicate")]),
    ],
)
def test_dedup_and_ack(
    sends: list[Send], expected: list[tuple[bool, bool, int | None, str]]
) -> None:
    fleet = Fleet(REGISTRY, now=0.0)
    assert [outcome(fleet.apply_event(ev(s), 1.0)) for s in sends] == expected


def test_first_event_above_a_gap_waits_for_the_gap() -> None:
    fleet = Fleet(REGISTRY, now=0.0)
    fleet.apply_event(event(3), 1.0)
    assert outcome(fleet.apply_event(event(5), 1.0)) == (True, True, None, "")
    assert fleet.event_mark("st-01", "boot-a") is None
    assert outcome(fleet.apply_event(ev((4, 3)), 1.0)) == (True, True, 5, "")


def test_boots_are_tracked_separately() -> None:
    fleet = Fleet(REGISTRY, now=0.0)
    fleet.apply_event(event(1, boot="b1"), 1.0)
    fleet.apply_event(event(2, boot="b1"), 1.0)
    assert outcome(fleet.apply_event(event(1, boot="b2"), 1.0)) == (True, True, 1, "")
    assert outcome(fleet.apply_event(event(5, boot="b3"), 1.0)) == (True, True, None, "")
    assert outcome(fleet.apply_event(event(2, boot="b1"), 1.0)) == (True, False, 2, "duplicate")
    assert (fleet.event_mark("st-01", "b1"), fleet.event_mark("st-01", "b2")) == (2, 1)


def test_restored_marks_make_replays_duplicates() -> None:
    fleet = Fleet(REGISTRY, now=0.0)
    fleet.restore_event_marks({("st-01", "boot-a"): 10, ("st-02", "boot-x"): 3})
    assert outcome(fleet.apply_event(event(10), 1.0)) == (True, False, 10, "duplicate")
    assert outcome(fleet.apply_event(event(12), 1.0)) == (True, True, 10, "")
    assert outcome(fleet.apply_event(event(11), 1.0)) == (True, True, 12, "")
    # restoring never moves a mark backwards, and folds in what is above it
    fleet.restore_event_marks({("st-01", "boot-a"): 5})
    assert fleet.event_mark("st-01", "boot-a") == 12
    fleet.apply_event(event(15), 1.0)
    fleet.restore_event_marks({("st-01", "boot-a"): 14})
    assert fleet.event_mark("st-01", "boot-a") == 15
    assert fleet.event_mark("st-02", "boot-x") == 3


def test_retired_station_events_are_refused() -> None:
    fleet = Fleet(REGISTRY, now=0.0)
    out = fleet.apply_event(event(1, station="old-01"), 1.0)
    assert outcome(out) == (False, False, None, "retired")
    assert fleet.event_mark("old-01", "boot-a") is None


def test_unregistered_station_events_are_kept_and_flagged() -> None:
    fleet = Fleet(REGISTRY, now=0.0)
    out = fleet.apply_event(event(1, station="stray-1", site="lain"), 1.0)
    assert (out.accepted, out.new, out.unregistered) == (True, True, True)
    assert fleet.event_mark("stray-1", "boot-a") == 1


@pytest.mark.parametrize(
    ("sends", "gaps"),
    [
        # in order, or a claim that covers only what we hold: no gap
        ([(1, 1), (2, 1), (3, 3)], [0, 0, 0]),
        # this replica had 1..3; another acked 4..9 while it was away: 6 seqs skipped, once
        ([(1, 1), (2, 1), (3, 1), (10, 10), (11, 10)], [0, 0, 0, 6, 0]),
        # what arrived above the mark is no gap: only 2 and 4 are missing
        ([(1, 1), (3, 1), (5, 1), (6, 6)], [0, 0, 0, 2]),
        # a boot first seen late: everything the agent no longer holds is missing here
        ([(5, 5)], [4]),
        # an older agent makes no claim, so nothing is ever counted as gone
        ([1, 9], [0, 0]),
        # a refused claim above the event itself is clamped to it
        ([(1, 1), (3, 9)], [0, 1]),
    ],
)
def test_history_gap_counts_seqs_the_agent_no_longer_holds(
    sends: list[Send], gaps: list[int]
) -> None:
    fleet = Fleet(REGISTRY, now=0.0)
    assert [fleet.apply_event(ev(s), 1.0).gap for s in sends] == gaps


@pytest.mark.parametrize(
    ("sends", "new"),
    [
        # 2..9 skipped as a gap; 5 then arrives late (a redelivery): stored once
        ([(1, 1), (10, 10), (5, 1), (5, 1)], [True, True, True, False]),
        # every skipped seq arrives late, in any order: each stored once
        ([(1, 1), (4, 4), (3, 1), (2, 1), (2, 1), (3, 1)], [True, True, True, True, False, False]),
        # a boot first seen at 10, the agent holding nothing older: 9 still arrives
        ([(10, 10), 9], [True, True]),
        # what was stored before the gap is still a duplicate
        ([(1, 1), (3, 1), (5, 5), (3, 1)], [True, True, True, False]),
    ],
)
def test_a_seq_skipped_as_a_gap_is_stored_when_it_arrives_late(
    sends: list[Send], new: list[bool]
) -> None:
    fleet = Fleet(REGISTRY, now=0.0)
    results = [fleet.apply_event(ev(s), 1.0) for s in sends]
    assert [r.new for r in results] == new
    top = max(s if isinstance(s, int) else s[0] for s in sends)
    assert results[-1].ack_seq == top  # the mark never moves back
