"""The end-of-case checks every fault test makes: nothing lost, nothing twice, states right."""

from __future__ import annotations

import time

from tests.support.collector_process import CollectorProcess
from tests.support.fleet_harness import (
    EventKey,
    FaultStation,
    LedgerReport,
    compare,
    expected_of,
)
from tests.support.mosquitto import wait_for


def settle(collector: CollectorProcess, stations: list[FaultStation],
           timeout: float = 45.0, expected: set[EventKey] | None = None) -> LedgerReport:
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
        report = compare(want, collector.stored_events())
        print(f"\n  {report.line()}; settled in {time.monotonic() - began:.1f} s")
        if report.missing:
            queued = {s.name: s.queued for s in stations}
            print(f"  missing {sorted(report.missing)[:12]}; still queued at the agents: {queued}")
    return report


def assert_exact(report: LedgerReport) -> None:
    assert report.duplicates == 0, report.line()
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
