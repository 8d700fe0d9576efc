"""Good configs: defaults, include + override semantics, broker URL forms, relative paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import (
    AgentConfig,
    CheckSpec,
    ComponentSpec,
    HostConfig,
    Intervals,
    QueueConfig,
    UsbMatch,
    UsbPolicy,
    load_config,
)
from pantau.broker_config import BrokerConfig, parse_broker

HERE = Path(__file__).parent
PROFILES = HERE / "profiles"


def test_minimal_config_gets_every_default() -> None:
    path = HERE / "good" / "minimal.toml"
    assert load_config(path, profile_dirs=[]) == AgentConfig(
        station="medan-baru-01", site="medan-baru", source=str(path)
    )


def test_station_overrides_profile_by_id_and_key() -> None:
    config = load_config(HERE / "good" / "override.toml", profile_dirs=[PROFILES])
    assert config.profiles == ("kit",)
    assert [c.id for c in config.components] == ["fingerprint", "camera", "monitor", "iris"]
    fingerprint, camera, monitor, iris = config.components
    assert fingerprint == ComponentSpec(
        id="fingerprint", kind="usb", description="ten-print scanner",
        match=(UsbMatch(0x1491, 0x0088, "FS88-0042"),),
    )
    assert camera == ComponentSpec(
        id="camera", kind="usb", required=False, min_speed="high", match=(UsbMatch(0x046D, 0x082D),)
    )
    assert monitor == ComponentSpec(id="monitor", kind="display", connector="HDMI-A-*")
    assert iris == ComponentSpec(
        id="iris", kind="usb", description="iris scanner", count=2,
        match=(UsbMatch(0xABCD, 0x00FF),),
    )
    assert config.usb == UsbPolicy(debounce_polls=5, flap_changes=6, allow_classes=(7,))
    assert config.checks == (
        CheckSpec(id="ministry", kind="http", target="http://127.0.0.1:8080/health", timeout_s=1.5),
        CheckSpec(id="enrollment-server", kind="tcp", target="[::1]:443"),
    )


def test_every_section_is_read(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("secret\n")
    path = tmp_path / "agent.toml"
    path.write_text(
        'station = "s-1"\nsite = "x_2"\nmax_payload_bytes = 65536\n'
        '[broker]\nurl = "mqtt://10.1.2.3"\nclient_id = "agent-s-1"\nusername = "s-1"\n'
        'password_file = "pw"\nkeepalive_s = 60\ntopic_root = "test/pantau"\n'
        "[intervals]\nheartbeat_s = 30\npoll_s = 0.5\nhost_s = 60\n"
        '[usb]\nallow = [{vid = "0781", pid = "5567"}]\nflap_window_s = 120\n'
        '[host]\nenabled = false\nmounts = ["/", "/data"]\n'
        '[queue]\npath = "q/queue.sqlite3"\nmax_age_s = 3600\nmax_bytes = 1048576\n'
    )
    config = load_config(path, profile_dirs=[])
    assert config.broker == BrokerConfig(
        url="mqtt://10.1.2.3", host="10.1.2.3", port=1883, tls=False, client_id="agent-s-1",
        username="s-1", password_file=tmp_path / "pw", keepalive_s=60, topic_root="test/pantau",
    )
    assert config.intervals == Intervals(heartbeat_s=30.0, poll_s=0.5, host_s=60.0)
    assert config.usb == UsbPolicy(allow=(UsbMatch(0x0781, 0x5567),), flap_window_s=120.0)
    assert config.host == HostConfig(enabled=False, mounts=("/", "/data"))
    assert config.queue == QueueConfig(tmp_path / "q/queue.sqlite3", 3600.0, 1048576)
    assert config.max_payload_bytes == 65536


@pytest.mark.parametrize(
    ("url", "host", "port", "tls"),
    [
        ("mqtt://broker.example", "broker.example", 1883, False),
        ("mqtts://broker.example", "broker.example", 8883, True),
        ("mqtt://10.0.0.1:1884", "10.0.0.1", 1884, False),
        ("mqtts://[::1]:8884/", "::1", 8884, True),
    ],
)
def test_broker_url_gives_host_port_tls(url: str, host: str, port: int, tls: bool) -> None:
    broker = parse_broker({"url": url}, "collector.toml", "the collector")
    assert (broker.url, broker.host, broker.port, broker.tls) == (url, host, port, tls)


def test_broker_tls_files_resolve_next_to_the_config(tmp_path: Path) -> None:
    for name in ("ca.crt", "me.crt", "me.key"):
        (tmp_path / name).write_text("x")
    table = {"url": "mqtts://h", "ca_file": "ca.crt", "cert_file": "me.crt", "key_file": "me.key"}
    broker = parse_broker(table, str(tmp_path / "collector.toml"), "the collector")
    assert (broker.ca_file, broker.cert_file, broker.key_file) == (
        tmp_path / "ca.crt", tmp_path / "me.crt", tmp_path / "me.key")


def test_first_profile_dir_wins(tmp_path: Path) -> None:
    first, second = tmp_path / "etc", tmp_path / "repo"
    for directory, speed in ((first, "super"), (second, "low")):
        directory.mkdir()
        (directory / "kit.toml").write_text(
            f'[[components]]\nid = "cam"\nkind = "usb"\nmin_speed = "{speed}"\n'
            'match = [{vid = "046d", pid = "082d"}]\n'
        )
    station = tmp_path / "agent.toml"
    station.write_text('station = "s"\nsite = "x"\ninclude = ["kit"]\n')
    assert load_config(station, profile_dirs=[first, second]).components[0].min_speed == "super"
