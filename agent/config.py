"""Agent configuration: TOML → frozen dataclasses, validated once at start.

TYPES ARE FIXED (other modules code against them). Parsing is filled in by the
config work: `load_config(path)` reads the file, resolves `include` profiles,
applies defaults and refuses anything unknown or wrong with a `ConfigError`
naming the file, the key and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

UsbSpeed = Literal["low", "full", "high", "super", "super_plus"]
USB_SPEED_ORDER: tuple[UsbSpeed, ...] = ("low", "full", "high", "super", "super_plus")
ComponentKind = Literal["usb", "display"]
CheckKind = Literal["tcp", "http"]
ActiveCheck = Literal["none", "control"]


class ConfigError(Exception):
    """A config the agent refuses to start with; the message names file, key and reason."""

    def __init__(self, file: Path | str, key: str, reason: str) -> None:
        super().__init__(f"{file}: {key}: {reason}")
        self.file = str(file)
        self.key = key
        self.reason = reason


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    url: str = "mqtt://127.0.0.1:1883"
    host: str = "127.0.0.1"
    port: int = 1883
    tls: bool = False
    client_id: str | None = None  # default: "pantau-agent-{station}"
    username: str | None = None
    password_file: Path | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive_s: int = 30
    topic_root: str = "pantau"
    connect_timeout_s: float = 10.0
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0


@dataclass(frozen=True, slots=True)
class Intervals:
    heartbeat_s: float = 15.0  # full snapshot on the heartbeat topic
    poll_s: float = 2.0  # how often probes run (USB, display, checks)
    host_s: float = 15.0  # psutil figures change slowly


@dataclass(frozen=True, slots=True)
class UsbMatch:
    vid: int
    pid: int
    serial: str | None = None


@dataclass(frozen=True, slots=True)
class ComponentSpec:
    id: str  # role, e.g. "fingerprint"; matches protocol.ID_PATTERN
    kind: ComponentKind
    required: bool = True
    description: str = ""  # human name for the technician table, e.g. "ten-print scanner"
    # usb
    match: tuple[UsbMatch, ...] = ()  # any-of
    count: int = 1
    min_speed: UsbSpeed | None = None  # below this speed the part is "failed"
    active_check: ActiveCheck = "none"  # "control": GET_STATUS control transfer (opt-in)
    health_command: tuple[str, ...] = ()  # opt-in; exit 0 = healthy
    health_timeout_s: float = 5.0
    # display
    connector: str = "*"  # glob over /sys/class/drm card*-<connector> names, e.g. "HDMI-A-*"


@dataclass(frozen=True, slots=True)
class CheckSpec:
    id: str
    kind: CheckKind
    target: str  # tcp: "host:port"; http: "http(s)://..."
    timeout_s: float = 3.0
    expect_status: int = 200  # http only


@dataclass(frozen=True, slots=True)
class UsbPolicy:
    debounce_polls: int = 2  # polls a device must be absent before "missing"
    flap_changes: int = 4  # this many appear/disappear changes ...
    flap_window_s: float = 60.0  # ... within this window = "failed" (re-enumerating)
    allow: tuple[UsbMatch, ...] = ()  # extra devices that are never "unexpected"
    allow_classes: tuple[int, ...] = ()  # extra device/interface classes never "unexpected"


@dataclass(frozen=True, slots=True)
class HostConfig:
    enabled: bool = True
    mounts: tuple[str, ...] = ("/",)


@dataclass(frozen=True, slots=True)
class QueueConfig:
    path: Path = Path("/var/lib/pantau-agent/queue.sqlite3")
    max_age_s: float = 7 * 86400.0
    max_bytes: int = 50 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class AgentConfig:
    station: str
    site: str
    source: str = "<defaults>"  # the file this came from, for messages
    broker: BrokerConfig = field(default_factory=BrokerConfig)
    intervals: Intervals = field(default_factory=Intervals)
    components: tuple[ComponentSpec, ...] = ()
    checks: tuple[CheckSpec, ...] = ()
    usb: UsbPolicy = field(default_factory=UsbPolicy)
    host: HostConfig = field(default_factory=HostConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    profiles: tuple[str, ...] = ()  # names of included profiles, for station_info
    max_payload_bytes: int = 256 * 1024


# Parsing lives in agent.config_load / config_schema / config_parse, which
# import the types above; these wrappers import them late to avoid a cycle.

def load_config(path: Path, profile_dirs: Sequence[Path] | None = None) -> AgentConfig:
    """Read `path`, resolve its `include` profiles (default dirs: /etc/pantau/profiles,
    then the repo's deploy/profiles), merge, check everything; raise `ConfigError`."""
    from agent.config_load import load_agent_config

    return load_agent_config(Path(path), profile_dirs)


def parse_broker_table(
    table: Mapping[str, object], file: str, key_prefix: str = "broker"
) -> BrokerConfig:
    """The `[broker]` table exactly as the agent reads it (the collector reuses this)."""
    from agent.config_load import parse_broker

    return parse_broker(table, file, key_prefix)
