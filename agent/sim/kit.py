"""One simulated station's hardware and config: a USB bus, a sysfs, an agent.toml.

The station config goes through the real `load_config` (profile include and
all), so the simulator exercises the same config path as a real station.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from agent.config import AgentConfig, load_config
from agent.sim.sysfs import make_edid, write_drm_connector
from agent.sim.usb_backend import (
    KIT_DEVICES,
    SIM_IRIS_IDS,
    SimDevice,
    SimulatedUsbBackend,
    kit_backend,
)

# A plain 4-port USB 2.0 hub (Genesys Logic GL850G): hubs are never "unexpected".
_HUB = SimDevice(0x05E3, 0x0608, "GenesysLogic", "USB2.0 Hub", device_class=9,
                 interface_classes=((9, 0, 0),))
MONITOR_CARD, MONITOR_CONNECTOR = "card0", "HDMI-A-1"
# Roles with serials (agent.sim.usb_backend) that a fault may touch; the rest is infrastructure.
FAULT_ROLES = ("fingerprint", "iris", "camera", "signature-pad", "card-reader")


def station_bus(serial_prefix: str, extra_hubs: int = 0) -> SimulatedUsbBackend:
    """A healthy kit (8 devices with the root hub), plus `extra_hubs` hubs on ports 8, 9, …"""
    bus = kit_backend(serial_prefix)
    free_port = 1 + max(max(d.port_numbers, default=0) for d in KIT_DEVICES.values())
    for n in range(extra_hubs):
        bus.plug(replace(_HUB, port_numbers=(free_port + n,)))
    return bus


def station_sysfs(root: Path) -> Path:
    """A sysfs with the operator monitor connected over HDMI."""
    set_monitor(root, connected=True)
    return root


def set_monitor(root: Path, connected: bool) -> None:
    edid = make_edid("DEL", "DELL P2419H") if connected else None
    write_drm_connector(root, MONITOR_CARD, MONITOR_CONNECTOR,
                        "connected" if connected else "disconnected", edid)


def role_device(role: str) -> SimDevice:
    return KIT_DEVICES[role]


def broker_line(broker_url: str | Sequence[str]) -> str:
    """`url = "..."` for one broker, `urls = [...]` for the nodes of a cluster."""
    if isinstance(broker_url, str):
        return f'url = "{broker_url}"'
    return "urls = [" + ", ".join(f'"{url}"' for url in broker_url) + "]"


def station_toml(
    station: str, site: str, broker_url: str | Sequence[str], workdir: Path,
    poll_s: float = 2.0, heartbeat_s: float = 15.0,
) -> str:
    """The agent.toml of a simulated station (the standard profile plus the iris scanner)."""
    vid, pid = SIM_IRIS_IDS
    return f"""\
station = "{station}"
site = "{site}"
include = ["ektp-enrollment"]

[broker]
{broker_line(broker_url)}

[intervals]
poll_s = {poll_s}
heartbeat_s = {heartbeat_s}
host_s = {heartbeat_s}

[queue]
path = "{workdir / 'queue.sqlite3'}"

[[components]]
id = "iris"
kind = "usb"
description = "iris scanner"
match = [{{vid = "{vid:04x}", pid = "{pid:04x}"}}]

# The card reader answers a GET_STATUS each poll, so a hung reader shows as failed.
[[components]]
id = "card-reader"
active_check = "control"
"""


def station_config(station: str, site: str, broker_url: str | Sequence[str], workdir: Path,
                   poll_s: float = 2.0, heartbeat_s: float = 15.0) -> AgentConfig:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "agent.toml"
    path.write_text(station_toml(station, site, broker_url, workdir, poll_s, heartbeat_s))
    return load_config(path)
