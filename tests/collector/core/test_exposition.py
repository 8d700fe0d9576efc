"""/metrics: golden output for a small fleet built from real messages, promtool lint,
and a render cache that never serves stale text.

Regenerate the golden file after an intended change with

    PANTAU_UPDATE_GOLDEN=1 python -m pytest tests/collector/core/test_exposition.py

and review the diff: metric names and labels are a public contract.
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from collector.exposition import CONTENT_TYPE, MetricsRenderer
from collector.exposition_text import escape_label, num
from collector.fleet import EventOutcome, Fleet, Outcome
from collector.process_metrics import ProcessSample, sample
from collector.registry import Registry, SiteInfo, StationEntry
from collector.stats import REJECT_REASONS, IngestStats, RegistryStats, StoreStats
from pantau import wire
from tests.collector.core.messages import SITE, T0, component, event, heartbeat, host, status

GOLDEN = Path(__file__).parent / "golden" / "metrics.txt"
PROMTOOL = Path("/usr/bin/promtool")
PROCESS = ProcessSample(
    cpu_seconds_total=12.5, resident_memory_bytes=50_000_000, virtual_memory_bytes=400_000_000,
    open_fds=17, max_fds=1024, start_time_seconds=1732800000.5,
)


def small_fleet() -> tuple[Fleet, IngestStats]:
    registry = Registry(
        {
            SITE: SiteInfo(SITE, "Medan Baru", "Kota Medan"),
            "medan-kota": SiteInfo("medan-kota", "Medan Kota", "Kota Medan"),
        },
        {
            "mb-01": StationEntry("mb-01", SITE, "ektp-enrollment", "active"),
            "mb-02": StationEntry("mb-02", SITE, "ektp-enrollment", "active"),
            "mb-03": StationEntry("mb-03", SITE, "ektp-enrollment", "planned"),
            "mb-04": StationEntry("mb-04", SITE, "ektp-enrollment", "retired"),
            "mk-01": StationEntry("mk-01", "medan-kota", "ektp-enrollment", "active"),
        },
    )
    fleet, stats = Fleet(registry, now=T0 + 1000.0), IngestStats()

    def apply(kind: str, out: Outcome | EventOutcome) -> None:
        # what the ingest does with an outcome
        if out.accepted and out.reason != "duplicate":
            stats.accept(kind)
        else:
            stats.reject(out.reason)

    apply("status", fleet.apply_status(SITE, "mb-01", status("online", station="mb-01"),
                                       T0 + 1000.0))
    full = heartbeat(
        "mb-01", seq=7, ts=T0 + 1002.0, host_info=host("enroll-\"01\"\\pc"),
        components=[component("fingerprint"), component("iris", "missing", since=T0 + 950.5),
                    component("spare-camera", "failed", required=False)],
        checks=[wire.Check(id="enrollment-server", kind="tcp", status="ok", latency_s=0.012),
                wire.Check(id="dns", kind="tcp", status="failed")],
        unexpected=[wire.UnexpectedDevice(vid="0781", pid="5567", product="flash drive")],
        agent=wire.AgentInfo(version="0.1.0", uptime_s=10.0, queued_events=3, dropped_events=2,
                             oldest_queued_ts=T0 + 990.5),
    )
    apply("heartbeat", fleet.apply_heartbeat(full, T0 + 1001.5))
    apply("heartbeat", fleet.apply_heartbeat(full, T0 + 1001.6))  # repeat: out_of_order
    apply("event", fleet.apply_event(event(1, "mb-01"), T0 + 1001.5))
    apply("event", fleet.apply_event(event(1, "mb-01"), T0 + 1001.6))  # duplicate
    apply("heartbeat", fleet.apply_heartbeat(heartbeat("mb-04", site=SITE), T0 + 1001.0))  # retired
    idle_agent = wire.AgentInfo(version="0.1.0", uptime_s=10.0, queued_events=0,
                                dropped_events=5)  # nothing queued: no oldest_queued_ts
    apply("heartbeat", fleet.apply_heartbeat(
        heartbeat("mk-01", site="medan-kota", agent=idle_agent), T0 + 1001.0))
    apply("status", fleet.apply_status("medan-kota", "mk-01", status("lost", station="mk-01",
                                                                     site="medan-kota"),
                                       T0 + 1003.0))
    apply("heartbeat", fleet.apply_heartbeat(
        heartbeat("stray-1", site="lain", host_info=host("stray", temp=None, disks=())),
        T0 + 1004.0
    ))
    stats.broker_connected = True
    stats.rejected_events_stored = 1
    stats.store = StoreStats(errors=Counter({"write": 3}), resets=1, dropped_rows=2,
                             pending_rows=40)
    stats.registry = RegistryStats(configured=True, last_load_ok=False,
                                   last_success_ts=T0 + 1000.25)
    return fleet, stats


def test_golden_metrics() -> None:
    fleet, stats = small_fleet()
    text = MetricsRenderer("0.1.0").render(fleet, stats, PROCESS).decode()
    if os.environ.get("PANTAU_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "rerun with PANTAU_UPDATE_GOLDEN=1 and review the diff"


def test_agent_queue_figures_per_station_kept_while_down() -> None:
    fleet, stats = small_fleet()
    text = MetricsRenderer("0.1.0").render(fleet, stats, PROCESS).decode()
    found = families(text)
    mb, mk = 'site="medan-baru",station="mb-01"', 'site="medan-kota",station="mk-01"'
    assert found["pantau_agent_queued_events"] == [
        f"pantau_agent_queued_events{{{mb}}} 3", f"pantau_agent_queued_events{{{mk}}} 0"]
    assert found["pantau_agent_dropped_events_total"] == [
        f"pantau_agent_dropped_events_total{{{mb}}} 2",
        f"pantau_agent_dropped_events_total{{{mk}}} 5"]  # mk-01 is lost: last known kept
    assert found["pantau_agent_oldest_queued_timestamp_seconds"] == [
        f"pantau_agent_oldest_queued_timestamp_seconds{{{mb}}} 1700000990.5"]  # stray-1: old agent


def test_promtool_finds_nothing_to_complain_about() -> None:
    fleet, stats = small_fleet()
    body = MetricsRenderer("0.1.0").render(fleet, stats, sample())
    if not PROMTOOL.exists():
        pytest.skip("promtool not installed (Debian package prometheus)")
    done = subprocess.run(
        [str(PROMTOOL), "check", "metrics"], input=body, capture_output=True, timeout=30,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")


def families(text: str) -> dict[str, list[str]]:
    """Family name -> its sample lines, asserting each family is one contiguous block."""
    seen: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            current = line.split()[2]
            assert current not in seen, f"{current} appears twice"
            seen[current] = []
        elif not line.startswith("#"):
            name = line.split("{")[0].split(" ")[0]
            assert name == current, f"{name} sample outside its family block"
            seen[current].append(line)
    return seen


def test_families_and_series_follow_the_contract() -> None:
    fleet, stats = small_fleet()
    fams = families(MetricsRenderer("0.1.0").render(fleet, stats, None).decode())
    assert "process_cpu_seconds_total" not in fams  # no sample, no process families
    # planned stations show in the state metrics, never up; retired ones not at all
    assert 'pantau_station_up{site="medan-baru",station="mb-03"} 0' in fams["pantau_station_up"]
    assert not any("mb-04" in line for lines in fams.values() for line in lines)
    # component/check/host series only for stations that reported
    assert not any("mb-02" in line for line in fams["pantau_component_up"])
    assert len(fams["pantau_station_state"]) == 6 * 5  # 5 shown stations x 6 states
    assert len([ln for ln in fams["pantau_station_state"] if ln.endswith(" 1")]) == 5
    assert len(fams["pantau_collector_rejected_messages_total"]) == len(REJECT_REASONS)
    assert fams["pantau_build_info"] == ['pantau_build_info{version="0.1.0",revision="unknown"} 1']


def test_cached_render_matches_a_fresh_render_after_changes() -> None:
    fleet, stats = small_fleet()
    renderer = MetricsRenderer("0.1.0")
    renderer.render(fleet, stats, None)
    fleet.apply_heartbeat(heartbeat("mb-01", seq=8, ts=T0 + 1020.0, host_info=host(cpu=0.9),
                                    components=[component("fingerprint", "missing")]), T0 + 1020.0)
    fleet.apply_status(SITE, "mb-02", status("offline", station="mb-02"), T0 + 1021.0)
    fleet.tick(T0 + 1100.0)
    warm = renderer.render(fleet, stats, None)
    assert warm == MetricsRenderer("0.1.0").render(fleet, stats, None)
    assert b'pantau_component_up{site="medan-baru",station="mb-01",component="fingerprint"} 0' \
        in warm
    assert b'pantau_host_cpu_ratio{site="medan-baru",station="mb-01"} 0.9' in warm
    stats.reject("schema")  # collector counters are never cached
    assert b'pantau_collector_rejected_messages_total{reason="schema"} 1' in renderer.render(
        fleet, stats, None
    )


@pytest.mark.parametrize(
    ("value", "escaped"),
    [("plain", "plain"), ('say "hi"', 'say \\"hi\\"'), ("a\\b", "a\\\\b"), ("l1\nl2", "l1\\nl2")],
)
def test_label_escaping(value: str, escaped: str) -> None:
    assert escape_label(value) == escaped


@pytest.mark.parametrize(
    ("value", "text"),
    [(True, "1"), (False, "0"), (3, "3"), (0.25, "0.25"), (1732900000.123, "1732900000.123"),
     (float("inf"), "+Inf"), (float("-inf"), "-Inf"), (float("nan"), "NaN"), (1e-07, "1e-07")],
)
def test_number_format(value: float, text: str) -> None:
    assert num(value) == text


def test_content_type_is_the_text_format() -> None:
    assert CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"


def test_process_sample_reads_this_process() -> None:
    figures = sample()
    assert figures.resident_memory_bytes > 1_000_000
    assert figures.virtual_memory_bytes >= figures.resident_memory_bytes
    assert 0 < figures.open_fds <= figures.max_fds
    assert figures.cpu_seconds_total > 0
    assert figures.start_time_seconds > 1e9
