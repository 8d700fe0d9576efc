"""Host probe, run for real on this machine; its Host must survive the wire round trip."""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.config import AgentConfig, HostConfig
from agent.probes.base import ProbeEnv, ProbeResult
from agent.probes.host import HostProbe, clamp_ratio, hottest
from pantau.wire import MAX_DISKS, AgentInfo, Heartbeat, decode, encode


def host_probe(**host: object) -> HostProbe:
    config = AgentConfig(station="s1", site="x", host=HostConfig(**host))  # type: ignore[arg-type]
    return HostProbe(config, ProbeEnv())


def test_real_host_figures_round_trip_through_the_protocol() -> None:
    probe = host_probe(mounts=("/",))
    probe.probe()
    host = probe.probe().host
    assert host is not None
    assert host.hostname == socket.gethostname()
    assert [d.mount for d in host.disks] == ["/"]
    fs = os.statvfs("/")
    assert 0 < host.disks[0].free_bytes <= fs.f_blocks * fs.f_frsize
    assert 0.0 < host.memory_used_ratio < 1.0
    assert host.clock_offset_s is None
    beat = Heartbeat(
        v=1, site="x", station="s1", seq=1, boot_id="b", ts=time.time(), interval_s=15.0,
        agent=AgentInfo(version="0.1.0", uptime_s=1.0), host=host, components=[], checks=[],
        unexpected=[],
    )
    assert decode("heartbeat", encode(beat)) == beat


def test_disabled_host_probe_returns_nothing() -> None:
    assert host_probe(enabled=False).probe() == ProbeResult()


def test_absent_mount_is_skipped_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    absent, not_a_mount = str(tmp_path / "absent"), str(tmp_path)
    probe = host_probe(mounts=(absent, "/", not_a_mount))
    with caplog.at_level(logging.WARNING, logger="agent.probes.host"):
        first, second = probe.probe().host, probe.probe().host
    assert first is not None and second is not None
    assert [d.mount for d in first.disks] == [d.mount for d in second.disks] == ["/"]
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2  # one per bad mount, not one per poll
    assert warned[0].startswith(f"disk {absent} skipped in host figures")



def test_many_mounts_are_cut_to_the_protocols_bound_in_config_order_and_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 40 spellings of the root mount (all real mount points), each listed twice.
    spellings = ["/" + "./" * k for k in range(40)]
    probe = host_probe(mounts=tuple(m for m in spellings for _ in (1, 2)))
    with caplog.at_level(logging.WARNING, logger="agent.probes.host"):
        first, second = probe.probe().host, probe.probe().host
    assert first is not None and second is not None
    assert [d.mount for d in first.disks] == spellings[:MAX_DISKS]
    beat = Heartbeat(
        v=1, site="x", station="s1", seq=1, boot_id="b", ts=time.time(), interval_s=15.0,
        agent=AgentInfo(version="0.1.0", uptime_s=1.0), host=first, components=[], checks=[],
        unexpected=[],
    )
    assert decode("heartbeat", encode(beat)) == beat  # neither too many nor repeated
    assert [r.getMessage() for r in caplog.records] == [  # once, not once per poll
        "40 disks found in [host] mounts, the protocol carries 32: the first 32 in config "
        "order are reported (said once); shorten [host] mounts"]

@dataclass
class Reading:
    current: float | None


@pytest.mark.parametrize(
    ("sensors", "expected"),
    [
        ({}, None),
        ({"coretemp": [Reading(41.0), Reading(57.5)], "acpitz": [Reading(30.0)]}, 57.5),
        ({"broken": [Reading(None), Reading(float("nan")), Reading(255.0)]}, None),
        ({"absent": [Reading(-273.0)], "nvme": [Reading(38.0)]}, 38.0),
    ],
    ids=["no-sensors", "max-over-groups", "only-garbage", "garbage-ignored"],
)
def test_hottest(sensors: dict[str, list[Reading]], expected: float | None) -> None:
    assert hottest(sensors) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(-0.1, 0.0), (0.0, 0.0), (0.5, 0.5), (1.0, 1.0), (1.02, 1.0),
                            (float("nan"), 0.0)]
)
def test_clamp_ratio(value: float, expected: float) -> None:
    assert clamp_ratio(value) == expected
