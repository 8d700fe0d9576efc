"""The production Mosquitto config and ACL, on a real broker with TLS.

Isolation is checked without sleeps: a client's QoS 1 messages reach a
subscriber in order, so once a later, allowed "marker" message has arrived, a
denied message sent before it would have arrived too.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.config import load_config as load_agent_config
from tests.deploy.binaries import REPO
from tests.deploy.tls_broker import Client, TlsBroker, add_account, run_script
from tests.deploy.traced import run_traced
from tests.support.mosquitto import wait_for

pytestmark = pytest.mark.broker

SITE = "medan-baru"
A, B = "medan-baru-01", "medan-baru-02"
COLLECTOR, ADMIN = ("pantau-collector", "collector-secret"), ("pantau-admin", "admin-secret")
REPLICAS = (("pantau-collector-a", "replica-a-secret"), ("pantau-collector-b", "replica-b-secret"))


def topic(station: str, kind: str, site: str = SITE) -> str:
    return f"pantau/v1/{site}/{station}/{kind}"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    tls = TlsBroker(tmp_path_factory.mktemp("tls-broker")).prepare()
    for station in (A, B):
        result = run_script("pantau-enroll-station", "--site", SITE, "--station", station,
                            "--out", str(tls.workdir / station), "--passwd-file", str(tls.passwd),
                            "--ca-file", str(tls.ca), "--install-dir", str(tls.workdir / station))
        assert result.returncode == 0, result.stderr
    add_account(tls.passwd, *COLLECTOR)
    add_account(tls.passwd, *ADMIN)
    for replica in REPLICAS:
        add_account(tls.passwd, *replica)
    yield tls.start()
    tls.stop()


def station(broker: TlsBroker, name: str, client_id: str = "") -> Client:
    password = (broker.workdir / name / "broker.password").read_text()
    client = Client(broker, name, password, client_id)
    assert client.accepted, client.connack
    return client


@pytest.fixture
def collector(broker: TlsBroker) -> Iterator[Client]:
    client = Client(broker, *COLLECTOR, client_id="pantau-collector")
    assert client.accepted
    client.subscribe("pantau/v1/#")
    yield client
    client.close()


def routed(collector: Client, where: str, payload: bytes) -> None:
    """Once the collector has it, Mosquitto has routed it to every allowed subscriber."""
    wait_for(lambda: payload in collector.received(where), 5, what=f"{payload!r} on {where}")


def deliver_then_marker(sender: Client, to: Client, marker_topic: str) -> None:
    sender.publish(marker_topic, b"marker")
    wait_for(lambda: b"marker" in to.received(marker_topic), 5, what=f"marker on {marker_topic}")


@pytest.mark.parametrize(("target", "kind", "marker"), [
    (B, "status", "status"), (B, "heartbeat", "heartbeat"), (B, "event", "event"),
    # A stolen station credential must not ack away the real agent's unstored events.
    (A, "ack", "event"), (A, "command", "event"),
])
def test_station_writes_only_its_own_status_heartbeat_and_event(
    broker: TlsBroker, collector: Client, target: str, kind: str, marker: str
) -> None:
    a = station(broker, A)
    a.publish(topic(target, kind), b"forged")
    a.publish(topic(target, kind, site="helvetia"), b"forged")
    deliver_then_marker(a, collector, topic(A, marker))  # its own topic does get through
    assert collector.received(topic(target, kind)) == []
    assert collector.received(topic(target, kind, site="helvetia")) == []
    a.close()


@pytest.mark.parametrize("kind", ["ack", "command", "status"])
def test_station_reads_only_its_own_ack_command_status(
    broker: TlsBroker, collector: Client, kind: str
) -> None:
    a, b = station(broker, A), station(broker, B)
    a.subscribe(topic(A, kind))
    a.subscribe(topic(B, kind))  # SUBACK may say "refused"; either way nothing may arrive
    (b if kind == "status" else collector).publish(topic(B, kind), b"for-b")
    routed(collector, topic(B, kind), b"for-b")
    (a if kind == "status" else collector).publish(topic(A, kind), b"marker")
    wait_for(lambda: b"marker" in a.received(topic(A, kind)), 5, what="own message")
    assert a.received(topic(B, kind)) == []
    a.close()
    b.close()


def test_station_cannot_read_the_fleet(broker: TlsBroker, collector: Client) -> None:
    a, b = station(broker, A), station(broker, B)
    a.subscribe("pantau/v1/#")
    a.subscribe(topic(A, "ack"))
    b.publish(topic(B, "heartbeat"), b"hb")
    routed(collector, topic(B, "heartbeat"), b"hb")
    collector.publish(topic(A, "ack"), b"marker")
    wait_for(lambda: b"marker" in a.received(topic(A, "ack")), 5, what="own ack")
    assert a.received(topic(B, "heartbeat")) == []
    a.close()
    b.close()


def test_collector_cannot_forge_station_status(broker: TlsBroker, collector: Client) -> None:
    collector.publish(topic(A, "status"), b"forged")
    deliver_then_marker(collector, collector, topic(A, "command"))
    assert collector.received(topic(A, "status")) == []


@pytest.mark.parametrize(("user", "password"), [
    (None, None), (A, "wrong-password"), ("nobody", "x"), ("", ""),
], ids=["anonymous", "wrong-password", "unknown-user", "empty-user"])
def test_refused_logins(broker: TlsBroker, user: str | None, password: str | None) -> None:
    client = Client(broker, user, password)
    assert client.connack is not None and client.connack.is_failure, client.connack
    client.close()


def test_client_id_takeover_is_impossible(broker: TlsBroker, collector: Client) -> None:
    b = station(broker, B)
    a = station(broker, A, client_id=B)  # A claims B's client id
    a.publish(topic(B, "heartbeat"), b"forged")  # still A's username: denied
    deliver_then_marker(b, collector, topic(B, "heartbeat"))  # B still connected
    assert b.disconnects == 0
    assert collector.received(topic(B, "heartbeat")) == [b"marker"]
    a.close()
    b.close()


@pytest.mark.parametrize(("size", "delivered"), [(256 * 1024, True), (256 * 1024 + 1, False)])
def test_payload_cap_matches_protocol(
    broker: TlsBroker, collector: Client, size: int, delivered: bool
) -> None:
    a = station(broker, A)
    a.publish(topic(A, "event"), b"e" * size)
    deliver_then_marker(a, collector, topic(A, "heartbeat"))
    assert (len(collector.received(topic(A, "event"))) == 1) is delivered
    a.close()


def test_enrolled_station_config_loads_in_the_agent(broker: TlsBroker) -> None:
    config = load_agent_config(broker.workdir / A / "agent.toml", [REPO / "deploy" / "profiles"])
    assert (config.station, config.site, config.broker.username) == (A, SITE, A)
    assert config.broker.tls and config.broker.ca_file is not None


@pytest.mark.parametrize("bad", [
    "a/b", "a+b", "a#b", "Medan", "", "-lead", "x" * 64, "pantau-collector", "pantau-admin",
    "pantau-collector-a", "pantau-collector-b",
])
def test_enroll_refuses_bad_station_names(tmp_path: Path, bad: str) -> None:
    passwd = tmp_path / "passwd"
    result = run_script("pantau-enroll-station", "--site", SITE, "--station", bad,
                        "--out", str(tmp_path / "out"), "--passwd-file", str(passwd))
    assert result.returncode == 2
    assert "pantau-enroll-station:" in result.stderr and "station" in result.stderr
    assert not passwd.exists() and not (tmp_path / "out" / "agent.toml").exists()


def test_enroll_refuses_bad_site_name_naming_the_wildcard(tmp_path: Path) -> None:
    result = run_script("pantau-enroll-station", "--site", "medan/+", "--station", A,
                        "--out", str(tmp_path / "out"), "--passwd-file", str(tmp_path / "p"))
    assert result.returncode == 2 and "'/', '+' or '#'" in result.stderr


def test_retire_clears_retained_state_and_account(broker: TlsBroker) -> None:
    name = "medan-baru-99"
    result = run_script("pantau-enroll-station", "--site", SITE, "--station", name,
                        "--out", str(broker.workdir / name), "--passwd-file", str(broker.passwd))
    assert result.returncode == 0, result.stderr
    broker.reload()
    old = wait_for(lambda: _try_station(broker, name), 5, what="enrolled station accepted")
    for kind in ("status", "heartbeat"):
        old.publish(topic(name, kind), b'{"state":"online"}', retain=True)
    old.close()
    (broker.workdir / "admin.password").write_text(ADMIN[1])
    # The broker comes from the collector's config, as on the central server.
    config = broker.workdir / "collector.toml"
    config.write_text(f'[broker]\nurl = "mqtts://127.0.0.1:{broker.port}"\n'
                      f'ca_file = "{broker.ca}"\n')
    traced = run_traced("pantau-retire-station", "--site", SITE, "--station", name,
                        "--passwd-file", str(broker.passwd), "--config", str(config),
                        "--admin-password-file", str(broker.workdir / "admin.password"),
                        workdir=broker.workdir)
    assert traced.result.returncode == 0, traced.result.stderr
    assert "mosquitto_pub" in {Path(p).name for p in traced.programs()}
    assert traced.leaks(ADMIN[1]) == []
    assert stat.S_IMODE(broker.passwd.stat().st_mode) == 0o640  # mosquitto_passwd -D kept it
    fresh = Client(broker, *COLLECTOR, client_id="pantau-collector-fresh")
    fresh.subscribe("pantau/v1/+/+/status")
    fresh.subscribe("pantau/v1/+/+/heartbeat")
    a = station(broker, A)
    deliver_then_marker(a, fresh, topic(A, "status"))
    a.close()
    assert fresh.received(topic(name, "status")) == []
    assert fresh.received(topic(name, "heartbeat")) == []
    fresh.close()
    broker.reload()
    wait_for(lambda: not _accepted_once(broker, name), 5, what="retired station refused")


def _try_station(broker: TlsBroker, name: str) -> Client | None:
    password = (broker.workdir / name / "broker.password").read_text()
    client = Client(broker, name, password)
    if client.accepted:
        return client
    client.close()
    return None


def _accepted_once(broker: TlsBroker, name: str) -> bool:
    client = _try_station(broker, name)
    if client is not None:
        client.close()
    return client is not None


def test_two_replicas_hold_their_sessions_side_by_side(broker: TlsBroker) -> None:
    """Each on its own account (client id forced to it): neither kicks the other off,
    both read the fleet, and the repair topic carries one replica's write to the other."""
    a, b = (Client(broker, user, pw, client_id=user) for user, pw in REPLICAS)
    assert a.accepted and b.accepted
    for replica in (a, b):
        replica.subscribe("pantau/v1/#")
        replica.subscribe("pantau/collector/repairs")
    s = station(broker, A)
    s.publish(topic(A, "event"), b"ev")
    for replica in (a, b):
        routed(replica, topic(A, "event"), b"ev")
    a.publish("pantau/collector/repairs", b"edit")
    routed(b, "pantau/collector/repairs", b"edit")
    assert (a.disconnects, b.disconnects) == (0, 0)
    for client in (a, b, s):
        client.close()


def test_stations_can_neither_read_nor_write_the_replicas_topics(
    broker: TlsBroker, collector: Client
) -> None:
    collector.subscribe("pantau/collector/repairs")
    s = station(broker, A)
    s.subscribe("pantau/collector/#")
    s.publish("pantau/collector/repairs", b"forged")
    deliver_then_marker(collector, collector, "pantau/collector/repairs")
    assert collector.received("pantau/collector/repairs") == [b"marker"]
    s.publish(topic(A, "heartbeat"), b"hb")  # ordered behind the marker at the station too
    routed(collector, topic(A, "heartbeat"), b"hb")
    assert s.received("pantau/collector/repairs") == []
    s.close()
