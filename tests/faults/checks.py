"""The end-of-case checks every fault test makes: nothing lost, nothing twice, states right.

"Nothing twice" is judged by what the collector applied (its own counter of
events taken as new, its transitions), not by its history table, whose UNIQUE
constraint would hide a second application (`fleet_harness.Applied`).
"""

from __future__ import annotations

import time

from tests.support.collector_process import CollectorProcess
from tests.support.event_tap import EventTap
from tests.support.fleet_harness import (
    Applied,
    EventKey,
    FaultStation,
    LedgerReport,
    compare,
    expected_of,
)
from tests.support.mosquitto import wait_for


def settle(collector: CollectorProcess, stations: list[FaultStation],
           timeout: float = 45.0, expected: set[EventKey] | None = None,
           tap: EventTap | None = None) -> LedgerReport:
    """Wait until every committed event is stored and acked (queues empty), then compare."""
    want = expected_of(stations) if expected is None else expected

    drained_since: list[float] = []

    def done() -> bool:
        stored = set(collector.stored_events())
        if any(s.queued for s in stations):
            drained_since.clear()
            return False
        # Queues empty for 2 s with events still missing: nothing is left to send
        # them, so they are lost — stop waiting and let the comparison say so.
        drained_since[:] = drained_since or [time.monotonic()]
        return want <= stored or time.monotonic() - drained_since[0] > 2.0

    began = time.monotonic()
    try:
        wait_for(done, timeout, interval=0.1, what="every committed event stored and acked")
    finally:
        report = compare(want, collector.stored_events(), applied_in_last_run(collector))
        print(f"\n  {report.line()}; settled in {time.monotonic() - began:.1f} s")
        if tap is not None:
            print(f"  {tap.line()}")
        if report.missing:
            queued = {s.name: s.queued for s in stations}
            print(f"  missing {sorted(report.missing)[:12]}; still queued at the agents: {queued}")
    return report


def applied_in_last_run(collector: CollectorProcess) -> Applied | None:
    """What the running collector applied since its last start (None if it is not up)."""
    if collector.http("/healthz")[0] != 200:
        return None
    since = (collector.run_started,)
    rows = collector.query("SELECT COUNT(*) FROM events WHERE received >= ?", since)
    transitions = collector.query(
        "SELECT station, old, new FROM transitions WHERE at >= ? ORDER BY id", since)
    return Applied(
        applied=int(collector.sample("pantau_collector_messages_total", 'kind="event"')),
        rows=int(rows[0][0]) if rows else 0,
        refused=int(collector.sample("pantau_collector_rejected_messages_total",
                                     'reason="duplicate"')),
        transitions=len(transitions),
        repeats=transition_repeats(transitions),
    )


def transition_repeats(
    rows: list[tuple[str, str | None, str]]
) -> tuple[tuple[str, str | None, str], ...]:
    """Rows that do not continue their station's chain: a transition applied twice."""
    last: dict[str, str] = {}
    repeats = []
    for station, old, new in rows:
        if old == new or (station in last and old != last[station]):
            repeats.append((station, old, new))
        last[station] = new
    return tuple(repeats)


def assert_exact(report: LedgerReport) -> None:
    if report.applied is not None:
        assert report.applied.applied == report.applied.rows, report.line()
        assert not report.applied.repeats, f"transitions twice: {report.applied.repeats[:5]}"
    assert not report.missing, f"lost: {sorted(report.missing)[:10]}"
    assert not report.extra, f"stored but never committed: {sorted(report.extra)[:10]}"


def assert_online(collector: CollectorProcess, stations: list[FaultStation],
                  timeout: float = 15.0) -> None:
    """Every station online, on its current boot, showing the parts as they are now."""
    def right() -> bool:
        shown = collector.stations()
        for st in stations:
            view = shown.get(st.name)
            if view is None or view["state"] != "online":
                return False
            if bool(view["problems"]) == st.parts_in:  # parts out = problems listed
                return False
        return True

    wait_for(right, timeout, what="every station online with its parts as they are")
