"""`pantau-collector` as a subprocess against a real broker: serve, be ready, stop cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from pantau import wire
from tests.support.mosquitto import MosquittoBroker, free_port, wait_for

pytestmark = pytest.mark.broker
REPO = Path(__file__).resolve().parents[3]


def collector_cmd(*args: str) -> list[str]:
    # Same entry point as the `pantau-collector` console script (collector.cli:main).
    return [sys.executable, "-m", "collector.cli", *args]


def http_status(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


@pytest.fixture
def running(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    proc = subprocess.Popen(
        collector_cmd(
            "run",
            "--broker",
            mosquitto.url,
            "--listen",
            f"127.0.0.1:{port}",
            "--data-dir",
            str(tmp_path / "data"),
        ),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    yield proc, f"http://127.0.0.1:{port}"
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def publish_station(broker: MosquittoBroker, site: str, station: str) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"it-{uuid.uuid4().hex[:8]}")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    hb = wire.Heartbeat(
        v=1,
        site=site,
        station=station,
        seq=1,
        boot_id="boot-1",
        ts=1.0e9,
        interval_s=15.0,
        agent=wire.AgentInfo(version="0.1.0", uptime_s=5.0),
        components=[],
        checks=[],
        unexpected=[],
    )
    topic = wire.topic_for(site, station, "heartbeat")
    client.publish(topic, wire.encode(hb), qos=1, retain=True).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def test_run_serves_health_ready_metrics_and_stops_cleanly_on_sigterm(
    mosquitto: MosquittoBroker, running: tuple[subprocess.Popen[bytes], str]
) -> None:
    proc, base = running
    station = f"it-{uuid.uuid4().hex[:8]}"
    publish_station(mosquitto, "it-site", station)
    wait_for(lambda: http_status(base + "/healthz")[0] == 200, 20, what="/healthz 200")
    wait_for(lambda: http_status(base + "/readyz")[0] == 200, 20, what="/readyz 200")
    wait_for(
        lambda: f'station="{station}"'.encode() in http_status(base + "/metrics")[1],
        10,
        what="the station in /metrics",
    )
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    assert proc.stdout is not None
    assert b"Traceback" not in proc.stdout.read()


BAD_CONFIGS = [
    ("unknown = 1\n", "unknown: unknown key"),
    ('[http]\nlisten = "nowhere"\n', "http.listen"),
    ('[broker]\nurl = "http://broker:1883"\n', "broker.url"),
    ("[state]\nstale_factor = 0\n", "state.stale_factor"),
    ('registry = "missing-fleet.toml"\n', "missing-fleet.toml"),
]


CASES = [("check-config", body, expected) for body, expected in BAD_CONFIGS]
CASES.append(("run", *BAD_CONFIGS[0]))


@pytest.mark.parametrize(
    ("command", "body", "expected"), CASES, ids=[f"{c}-{e}" for c, _, e in CASES]
)
def test_bad_config_exits_2_naming_file_and_key(
    tmp_path: Path, command: str, body: str, expected: str
) -> None:
    config = tmp_path / "collector.toml"
    config.write_text(body)
    done = subprocess.run(
        collector_cmd(command, "--config", str(config)),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    # The file at fault (the config, or the registry it names) and the key or reason.
    assert str(tmp_path) in done.stderr and expected in done.stderr


def test_check_config_accepts_the_shipped_example(tmp_path: Path) -> None:
    example = REPO / "deploy" / "collector.example.toml"
    fleet = REPO / "deploy" / "fleet.example.toml"
    text = example.read_text().replace("/etc/pantau/fleet.toml", str(fleet))
    config = tmp_path / "collector.toml"
    config.write_text(text)
    done = subprocess.run(
        collector_cmd("check-config", "--config", str(config)),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "ok" in done.stdout
