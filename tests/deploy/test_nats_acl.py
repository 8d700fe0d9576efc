"""deploy/nats on a real 3-node nats-server cluster: TLS, accounts, permissions, sessions.

The accounts are made by the real tooling (pantau-enroll-station
--nats-users). Stations, the collector and the probes connect to different
nodes, so every check also crosses the cluster's routes. Isolation is shown as
in test_mosquitto_acl.py, without sleeps: a client's QoS 1 messages reach a
subscriber in order, so once a later, allowed marker has arrived, a denied
message sent before it would have arrived too.
"""

from __future__ import annotations

import grp
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.config import load_config as load_agent_config
from tests.deploy.binaries import REPO
from tests.deploy.tls_broker import Client, run_script
from tests.deploy.traced import run_traced
from tests.support.mosquitto import wait_for
from tests.support.nats_cluster import NatsCluster, NatsNode

pytestmark = pytest.mark.broker

SITE = "medan-baru"
A, B = "medan-baru-01", "medan-baru-02"
COLLECTOR, ADMIN, REPLICA = "pantau-collector", "pantau-admin", "pantau-collector-a"


def topic(station: str, kind: str, site: str = SITE) -> str:
    return f"pantau/v1/{site}/{station}/{kind}"


def enroll(cluster: NatsCluster, name: str) -> None:
    """A station (name like medan-baru-NN) or a central account, by the shipped tooling."""
    out = cluster.workdir / name
    args = (["--service", name] if name in (COLLECTOR, ADMIN, REPLICA) else
            ["--site", SITE, "--station", name, "--ca-file", str(cluster.ca),
             "--install-dir", str(out)])
    result = run_script("pantau-enroll-station", "--nats-users", str(cluster.users),
                        "--out", str(out), *args)
    assert result.returncode == 0, result.stderr


def password(cluster: NatsCluster, name: str) -> str:
    return (cluster.workdir / name / "broker.password").read_text()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    nats = NatsCluster(tmp_path_factory.mktemp("nats")).prepare()
    for name in (A, B, COLLECTOR, ADMIN, REPLICA):
        enroll(nats, name)
    yield nats.start()
    nats.stop()


def connect(node: NatsNode, name: str, cluster: NatsCluster, client_id: str = "",
            clean_session: bool = True) -> Client:
    client = Client(node, name, password(cluster, name), client_id or name, clean_session)
    if not client.accepted:
        client.close()
        raise AssertionError(f"{name} refused by {node.name}: {client.connack}")
    return client


@pytest.fixture
def collector(cluster: NatsCluster) -> Iterator[Client]:
    client = connect(cluster.nodes[0], COLLECTOR, cluster)
    client.subscribe("pantau/v1/+/+/+")
    yield client
    client.close()


def deliver_then_marker(sender: Client, to: Client, marker_topic: str) -> None:
    sender.publish(marker_topic, b"marker")
    wait_for(lambda: b"marker" in to.received(marker_topic), 10, what=f"marker on {marker_topic}")


@pytest.mark.parametrize("kind", ["status", "heartbeat", "event"])
def test_station_publishes_own_topics_not_anothers(
    cluster: NatsCluster, collector: Client, kind: str
) -> None:
    a = connect(cluster.nodes[1], A, cluster)
    a.publish(topic(B, kind), b"forged")
    a.publish(topic(B, kind, site="helvetia"), b"forged")
    deliver_then_marker(a, collector, topic(A, kind))
    assert collector.received(topic(B, kind)) == []
    assert collector.received(topic(B, kind, site="helvetia")) == []
    a.close()


@pytest.mark.parametrize("kind", ["ack", "command", "status"])
def test_station_reads_only_its_own_ack_command_status(
    cluster: NatsCluster, collector: Client, kind: str
) -> None:
    a, b = connect(cluster.nodes[1], A, cluster), connect(cluster.nodes[2], B, cluster)
    a.subscribe(topic(A, kind))
    a.subscribe(topic(B, kind))  # SUBACK may say "refused"; either way nothing may arrive
    (b if kind == "status" else collector).publish(topic(B, kind), b"for-b")
    wait_for(lambda: b"for-b" in collector.received(topic(B, kind)), 10, what="routed")
    (a if kind == "status" else collector).publish(topic(A, kind), b"marker")
    wait_for(lambda: b"marker" in a.received(topic(A, kind)), 10, what="own message")
    assert a.received(topic(B, kind)) == []
    a.close()
    b.close()


# Filters a station may try: another's topic, wildcards over the fleet, and the
# subjects NATS itself delivers QoS 1 subscriptions on ($MQTT.sub.<id>).
SNOOP_FILTERS = [topic(B, "status"), "pantau/v1/+/+/status", "pantau/v1/#", "#",
                 "$MQTT/sub/#", "$MQTT/sub/+", "$MQTT/#"]


def test_station_gets_no_retained_or_live_message_of_another(
        cluster: NatsCluster, collector: Client) -> None:
    b = connect(cluster.nodes[2], B, cluster)
    b.publish(topic(B, "status"), b"b-retained", retain=True)
    a = connect(cluster.nodes[1], A, cluster)
    a.publish(topic(A, "status"), b"a-retained", retain=True)
    wait_for(lambda: b"a-retained" in collector.received(topic(A, "status")), 10, what="routed")
    fresh = connect(cluster.nodes[0], A, cluster, client_id="a-fresh")
    for pattern in SNOOP_FILTERS:
        fresh.subscribe(pattern)
    fresh.subscribe(topic(A, "status"))  # its own retained status does come back
    fresh.subscribe(topic(A, "ack"))
    wait_for(lambda: b"a-retained" in fresh.received(topic(A, "status")), 10, what="own retained")
    b.publish(topic(B, "heartbeat"), b"b-live")
    wait_for(lambda: b"b-live" in collector.received(topic(B, "heartbeat")), 10, what="routed")
    deliver_then_marker(collector, fresh, topic(A, "ack"))
    assert {m.topic for m in fresh.messages} == {topic(A, "status"), topic(A, "ack")}
    for client in (a, b, fresh):
        client.close()


def test_a_replica_account_reads_the_fleet_and_shares_repair_writes(
        cluster: NatsCluster, collector: Client) -> None:
    """docs/replicas.md: replica accounts have the collector's rights, the repairs topic
    included, and a station can neither read nor write that topic."""
    replica = connect(cluster.nodes[2], REPLICA, cluster)
    replica.subscribe("pantau/v1/+/+/+")
    replica.subscribe("pantau/collector/repairs")
    a = connect(cluster.nodes[1], A, cluster)
    a.subscribe("pantau/collector/repairs")  # SUBACK may say "refused": nothing may arrive
    a.subscribe(topic(A, "ack"))
    a.publish("pantau/collector/repairs", b"forged by a station")
    deliver_then_marker(a, replica, topic(A, "event"))
    collector.publish("pantau/collector/repairs", b"from the other replica")
    wait_for(lambda: b"from the other replica" in replica.received("pantau/collector/repairs"),
             10, what="a repair write between replicas")
    deliver_then_marker(collector, a, topic(A, "ack"))
    assert replica.received("pantau/collector/repairs") == [b"from the other replica"]
    assert a.received("pantau/collector/repairs") == []
    replica.close()
    a.close()


def test_collector_cannot_forge_station_status(cluster: NatsCluster, collector: Client) -> None:
    collector.publish(topic(A, "status"), b"forged")
    deliver_then_marker(collector, collector, topic(A, "command"))
    assert b"forged" not in collector.received(topic(A, "status"))


@pytest.mark.parametrize(("user", "secret"), [
    (None, None), (A, "wrong-password"), ("nobody", "x"), ("", ""),
], ids=["anonymous", "wrong-password", "unknown-user", "empty-user"])
def test_refused_logins(cluster: NatsCluster, user: str | None, secret: str | None) -> None:
    client = Client(cluster.nodes[0], user, secret)
    assert client.connack is not None and client.connack.is_failure, client.connack
    client.close()


def test_a_station_can_take_over_anothers_client_id(cluster: NatsCluster) -> None:
    """A known limit of NATS 2.9.10 (Mosquitto binds client id to user; NATS cannot).

    The other station's session is kicked off, not its topics: it reconnects
    and its rights stay its own (test_station_publishes_own_topics_not_anothers).
    If this starts failing, NATS has closed the gap: say so in docs/ha.md.
    """
    b = connect(cluster.nodes[1], B, cluster, client_id=f"pantau-agent-{B}")
    a = connect(cluster.nodes[2], A, cluster, client_id=f"pantau-agent-{B}")
    wait_for(lambda: b.disconnects > 0, 10, what="B's session taken over")
    a.close()
    b.close()


def test_persistent_session_keeps_qos1_messages_while_the_collector_is_away(
        cluster: NatsCluster) -> None:
    away = connect(cluster.nodes[0], COLLECTOR, cluster, "collector-away", clean_session=False)
    away.subscribe(topic(A, "event"))
    away.close()
    a = connect(cluster.nodes[1], A, cluster)
    for n in range(5):
        a.publish(topic(A, "event"), f"e{n}".encode())
    a.close()
    back = connect(cluster.nodes[2], COLLECTOR, cluster, "collector-away", clean_session=False)
    wait_for(lambda: len(back.received(topic(A, "event"))) >= 5, 15, what="queued events")
    assert back.received(topic(A, "event")) == [f"e{n}".encode() for n in range(5)]
    back.close()


def test_enrolled_station_config_loads_in_the_agent(cluster: NatsCluster) -> None:
    config = load_agent_config(cluster.workdir / A / "agent.toml", [REPO / "deploy" / "profiles"])
    assert (config.station, config.site, config.broker.username) == (A, SITE, A)
    assert config.broker.tls and config.broker.ca_file is not None


def test_enroll_keeps_the_password_off_command_lines_and_the_users_file_private(
        cluster: NatsCluster) -> None:
    name = "medan-baru-98"
    traced = run_traced("pantau-enroll-station", "--site", SITE, "--station", name,
                        "--out", str(cluster.workdir / name), "--nats-users", str(cluster.users),
                        workdir=cluster.workdir)
    assert traced.result.returncode == 0, traced.result.stderr
    assert "mkpasswd" in {Path(p).name for p in traced.programs()}
    assert traced.leaks(password(cluster, name)) == []
    mode = cluster.users.stat()
    assert stat.S_IMODE(mode.st_mode) == 0o640
    assert grp.getgrgid(mode.st_gid).gr_name == "nats"
    cluster.reload()
    wait_for(lambda: _accepted_once(cluster, name), 10, what="enrolled station accepted")


def test_retire_clears_retained_state_and_account(cluster: NatsCluster) -> None:
    name = "medan-baru-99"
    enroll(cluster, name)
    cluster.reload()
    old = wait_for(lambda: _try(cluster, name), 10, what="enrolled station accepted")
    for kind in ("status", "heartbeat"):
        old.publish(topic(name, kind), b'{"state":"online"}', retain=True)
    old.close()
    config = cluster.workdir / "collector.toml"  # the broker comes from the collector's config
    config.write_text(f'[broker]\nurl = "mqtts://127.0.0.1:{cluster.nodes[1].port}"\n'
                      f'ca_file = "{cluster.ca}"\n')
    admin_password = cluster.workdir / ADMIN / "broker.password"
    traced = run_traced("pantau-retire-station", "--site", SITE, "--station", name,
                        "--nats-users", str(cluster.users), "--config", str(config),
                        "--admin-user", ADMIN, "--admin-password-file", str(admin_password),
                        workdir=cluster.workdir)
    assert traced.result.returncode == 0, traced.result.stderr
    assert "mosquitto_pub" in {Path(p).name for p in traced.programs()}
    assert traced.leaks(admin_password.read_text()) == []
    assert [line.endswith("# retired") for line in cluster.users.read_text().splitlines()
            if f'"{name}"' in line] == [True]
    assert stat.S_IMODE(cluster.users.stat().st_mode) == 0o640
    fresh = connect(cluster.nodes[2], COLLECTOR, cluster, "collector-fresh")
    fresh.subscribe("pantau/v1/+/+/status")
    fresh.subscribe("pantau/v1/+/+/heartbeat")
    a = connect(cluster.nodes[0], A, cluster)
    deliver_then_marker(a, fresh, topic(A, "status"))
    assert fresh.received(topic(name, "status")) == []
    assert fresh.received(topic(name, "heartbeat")) == []
    for client in (a, fresh):
        client.close()
    cluster.reload()
    wait_for(lambda: not _accepted_once(cluster, name), 10, what="retired station refused")
    assert all(node.healthy() for node in cluster.nodes)  # the reload crashed none


def _try(cluster: NatsCluster, name: str) -> Client | None:
    """A station's connection, or None while the node still refuses it."""
    client = Client(cluster.nodes[0], name, password(cluster, name), name)
    if client.accepted:
        return client
    client.close()
    return None


def _accepted_once(cluster: NatsCluster, name: str) -> bool:
    client = _try(cluster, name)
    if client is not None:
        client.close()
    return client is not None
