"""The pure core: since, transitions, event and heartbeat numbering."""

from __future__ import annotations

import logging

import msgspec
import pytest

from agent.config import AgentConfig, CheckSpec, ComponentSpec
from agent.journal_meta import QueueHealth
from agent.probes.base import ComponentReading, ProbeResult
from agent.state_machine import (
    ComponentTracker,
    ComponentTransition,
    HeartbeatBuilder,
    StationStateMachine,
    clip,
    failed_probe_result,
    merge_results,
)
from pantau.wire import MAX_UNEXPECTED, Check, Device, UnexpectedDevice, decode, encode


def reading(status: str = "ok", serial: str | None = "S1", cid: str = "fingerprint",
            detail: str = "") -> ComponentReading:
    device = Device(vid="05ba", pid="000a", serial=serial) if serial is not None else None
    return ComponentReading(id=cid, kind="usb", required=True, status=status,  # type: ignore[arg-type]
                            detail=detail, device=device)


# Each case: a sequence of (time, reading); expected `since` after the last
# poll and the transitions the whole sequence produced.
CASES = {
    "first sight is no event": ([(10, reading())], 10, []),
    "steady ok keeps since": ([(10, reading()), (12, reading()), (14, reading())], 10, []),
    "ok to missing": (
        [(10, reading()), (12, reading("missing", None, detail="not found"))], 12,
        [ComponentTransition("fingerprint", "ok", "missing", "not found")],
    ),
    "missing then back": (
        [(10, reading()), (12, reading("missing", None)), (14, reading())], 14,
        [ComponentTransition("fingerprint", "ok", "missing", ""),
         ComponentTransition("fingerprint", "missing", "ok", "")],
    ),
    "swap through a missing spell names the new unit": (
        [(10, reading(serial="A")), (12, reading("missing", None)), (14, reading(serial="B"))], 14,
        [ComponentTransition("fingerprint", "ok", "missing", ""),
         ComponentTransition("fingerprint", "missing", "ok", "serial changed from A to B")],
    ),
    "same unit back after a missing spell is a plain return": (
        [(10, reading(serial="A")), (12, reading("missing", None)), (14, reading(serial="A"))], 14,
        [ComponentTransition("fingerprint", "ok", "missing", ""),
         ComponentTransition("fingerprint", "missing", "ok", "")],
    ),
    "serial swap is ok to ok, since kept": (
        [(10, reading(serial="A")), (12, reading(serial="B"))], 10,
        [ComponentTransition("fingerprint", "ok", "ok", "serial changed from A to B")],
    ),
    "serial appears from none": (
        [(10, reading(serial="")), (12, reading(serial="B"))], 10,
        [ComponentTransition("fingerprint", "ok", "ok", "serial changed from (none) to B")],
    ),
    "serial change while failed is no event": (
        [(10, reading("failed", "A")), (12, reading("failed", "B"))], 10, [],
    ),
    "detail change alone is no event": (
        [(10, reading("failed", detail="x")), (12, reading("failed", detail="y"))], 10, [],
    ),
    "first sight missing is no event": ([(10, reading("missing", None))], 10, []),
}


@pytest.mark.parametrize(("polls", "since", "transitions"), CASES.values(), ids=CASES.keys())
def test_tracker(polls: list[tuple[float, ComponentReading]], since: float,
                 transitions: list[ComponentTransition]) -> None:
    tracker = ComponentTracker()
    seen: list[ComponentTransition] = []
    for now, r in polls:
        components, found = tracker.observe([r], now)
        seen.extend(found)
    assert components[-1].since == since
    assert components[-1].status == polls[-1][1].status
    assert seen == transitions


def test_events_numbered_per_boot_from_one() -> None:
    state = StationStateMachine("medan-baru", "medan-baru-01", "boot-1")
    flips = ["ok", "missing", "ok", "failed"]
    events = []
    for i, status in enumerate(flips):
        obs = state.observe(ProbeResult(components=(reading(status),)), 100.0 + i)
        events.extend(obs.events)
        assert obs.changed == (i > 0)
    assert [e.seq for e in events] == [1, 2, 3]
    assert [(e.from_, e.to) for e in events] == [("ok", "missing"), ("missing", "ok"),
                                                 ("ok", "failed")]
    assert {(e.boot_id, e.site, e.station) for e in events} == {
        ("boot-1", "medan-baru", "medan-baru-01")}
    # A new boot starts again at 1.
    again = StationStateMachine("medan-baru", "medan-baru-01", "boot-2")
    again.observe(ProbeResult(components=(reading(),)), 1)
    assert again.observe(ProbeResult(components=(reading("missing"),)), 2).events[0].seq == 1


FLASH = UnexpectedDevice(vid="0781", pid="5567", product="USB flash drive", port="1-4")


@pytest.mark.parametrize(("before", "after", "changed"), [
    ((), (), False),
    ((), (FLASH,), True),
    ((FLASH,), (), True),
    ((FLASH,), (FLASH,), False),
])
def test_unexpected_change_wants_heartbeat(before: tuple[UnexpectedDevice, ...],
                                           after: tuple[UnexpectedDevice, ...],
                                           changed: bool) -> None:
    state = StationStateMachine("s", "st", "b")
    first = state.observe(ProbeResult(components=(reading(),), unexpected=before), 1)
    assert first.changed is False
    obs = state.observe(ProbeResult(components=(reading(),), unexpected=after), 2)
    assert obs.changed is changed
    assert obs.events == ()


def test_check_status_change_wants_heartbeat_without_event() -> None:
    state = StationStateMachine("s", "st", "b")
    ok = Check(id="server", kind="tcp", status="ok", latency_s=0.01)
    bad = Check(id="server", kind="tcp", status="failed", detail="refused")
    state.observe(ProbeResult(checks=(ok,)), 1)
    obs = state.observe(ProbeResult(checks=(bad,)), 2)
    assert obs.changed and obs.events == () and obs.checks == (bad,)


CONFIG = AgentConfig(
    station="medan-baru-01", site="medan-baru",
    components=(ComponentSpec(id="fingerprint", kind="usb"),
                ComponentSpec(id="camera", kind="usb", required=False),
                ComponentSpec(id="monitor", kind="display")),
    checks=(CheckSpec(id="server", kind="tcp", target="10.0.0.1:443"),),
)


@pytest.mark.parametrize(("probe", "components", "checks"), [
    ("usb", ["fingerprint", "camera"], []),
    ("display", ["monitor"], []),
    ("checks", [], ["server"]),
    ("host", [], []),
])
def test_failed_probe_owns_its_parts(probe: str, components: list[str],
                                     checks: list[str]) -> None:
    result = failed_probe_result(CONFIG, probe, "Permission denied")
    assert [c.id for c in result.components] == components
    assert [c.id for c in result.checks] == checks
    assert all(c.status == "unknown" for c in (*result.components, *result.checks))
    assert all("Permission denied" in c.detail for c in (*result.components, *result.checks))
    assert [c.required for c in result.components] == [
        s.required for s in CONFIG.components if s.id in components]


def test_heartbeat_round_trips_and_counts() -> None:
    state = StationStateMachine(CONFIG.site, CONFIG.station, "boot-1")
    merged = merge_results([ProbeResult(components=(reading(),), unexpected=(FLASH,)),
                            ProbeResult(components=(reading(cid="monitor", serial=None),))])
    obs = state.observe(merged, 1.7e9)  # wire times lie in [2000, 2100)
    builder = HeartbeatBuilder(CONFIG, "boot-1", "0.1.0")
    hb1 = builder.build(obs, None, 1.7e9, 3.0)
    hb2 = builder.build(obs, None, 1.7e9 + 15, 18.0)
    assert (hb1.seq, hb2.seq) == (1, 2)
    assert decode("heartbeat", encode(hb2)) == hb2
    assert [c.id for c in hb2.components] == ["fingerprint", "monitor"]
    assert hb2.unexpected == [FLASH] and hb2.agent.uptime_s == 18.0
    assert hb2.interval_s == CONFIG.intervals.heartbeat_s



def test_lists_past_the_protocols_bounds_are_cut_and_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = tuple(UnexpectedDevice(vid="0781", pid="5567", port=f"1-{n}") for n in range(70))
    obs = StationStateMachine("s", "st", "b").observe(ProbeResult(unexpected=hub), 1.7e9)
    builder = HeartbeatBuilder(CONFIG, "boot-1", "0.1.0")
    with caplog.at_level(logging.WARNING, logger="agent.state_machine"):
        beats = [builder.build(obs, None, 1.7e9 + n, 1.0) for n in range(2)]
    assert [u.port for u in beats[1].unexpected] == [f"1-{n}" for n in range(MAX_UNEXPECTED)]
    assert decode("heartbeat", encode(beats[1])) == beats[1]
    assert [r.getMessage() for r in caplog.records] == [
        "70 unexpected this poll, the protocol carries 64: the first 64 are sent "
        "(said once per run)"]


def test_queue_health_goes_on_the_wire_only_when_given() -> None:
    obs = StationStateMachine(CONFIG.site, CONFIG.station, "b").observe(ProbeResult(), 1.7e9)
    builder = HeartbeatBuilder(CONFIG, "b", "0.1.0")
    bare, empty, busy = (builder.build(obs, None, 1.7e9 + 50, 3.0, queue) for queue in (
        None, QueueHealth(0, 4, None), QueueHealth(2, 4, 1.7e9 + 40.5)))
    assert msgspec.json.decode(encode(bare.agent)) == {"version": "0.1.0", "uptime_s": 3.0}
    assert msgspec.json.decode(encode(empty.agent)) == {
        "version": "0.1.0", "uptime_s": 3.0, "queued_events": 0, "dropped_events": 4}
    assert (busy.agent.queued_events, busy.agent.oldest_queued_ts) == (2, 1.7e9 + 40.5)
    assert decode("heartbeat", encode(busy)) == busy

def test_overlong_detail_is_clipped_to_protocol_limit() -> None:
    state = StationStateMachine("s", "st", "b")
    obs = state.observe(ProbeResult(components=(reading(detail="x" * 5000),)), 1)
    assert len(obs.components[0].detail) == 1024
    assert msgspec.json.decode(encode(obs.components[0]))["detail"].endswith("…")
    assert clip("short") == "short"


# A restart: the tracker starts with the serials the journal kept (role -> serial).
RESTART_CASES = {
    "same unit after a restart is no event": ({"fingerprint": "A"}, reading(serial="A"), []),
    "another unit after a restart is a swap": (
        {"fingerprint": "A"}, reading(serial="B"),
        [ComponentTransition("fingerprint", "ok", "ok", "serial changed from A to B")],
    ),
    "missing after a restart is still no event": (
        {"fingerprint": "A"}, reading("missing", None), []),
    "nothing kept: the first run knows no earlier unit": ({}, reading(serial="B"), []),
    "another role's serial does not count": ({"camera": "A"}, reading(serial="B"), []),
}


@pytest.mark.parametrize(("kept", "first", "transitions"), RESTART_CASES.values(),
                         ids=RESTART_CASES.keys())
def test_first_sight_after_a_restart(kept: dict[str, str], first: ComponentReading,
                                     transitions: list[ComponentTransition]) -> None:
    tracker = ComponentTracker(kept)
    assert list(tracker.observe([first], 10)[1]) == transitions


def test_only_serials_that_changed_go_to_the_journal() -> None:
    state = StationStateMachine("s", "st", "b", {"fingerprint": "A"})
    state.observe(ProbeResult(components=(reading(serial="A"),)), 1)
    assert state.take_serial_changes() == {}  # the same unit: nothing to write
    state.observe(ProbeResult(components=(reading("missing", None),)), 2)
    state.observe(ProbeResult(components=(reading(serial="B"),)), 3)
    state.observe(ProbeResult(components=(reading(serial="B"),)), 4)
    assert state.take_serial_changes() == {"fingerprint": "B"}
    assert state.take_serial_changes() == {}
