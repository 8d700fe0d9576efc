"""The NATS cluster of deploy/nats survives kill -9 of one node (real nats-server).

Killed: the leader of $MQTT_msgs, the stream that holds QoS 1 messages for
sessions that are away, and the node the collector's session was on. What
must hold: the retained status and the queued events are still there, on
other nodes, in order; clients move to another node (the agent's and
collector's broker lists do this; here the test connects anew); the killed
node rejoins and catches up.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.deploy.test_nats_acl import COLLECTOR, A, B, connect, enroll, topic
from tests.deploy.tls_broker import Client
from tests.support.mosquitto import wait_for
from tests.support.nats_cluster import NatsCluster, NatsNode

pytestmark = pytest.mark.broker


@pytest.fixture
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    nats = NatsCluster(tmp_path_factory.mktemp("nats-kill")).prepare()
    for name in (A, B, COLLECTOR):
        enroll(nats, name)
    yield nats.start()
    nats.stop()


def test_every_mqtt_stream_has_three_replicas(cluster: NatsCluster) -> None:
    connect(cluster.nodes[0], COLLECTOR, cluster).close()  # the first client makes the streams
    streams = cluster.nodes[1].streams()
    assert {"$MQTT_msgs", "$MQTT_rmsgs", "$MQTT_sess"} <= set(streams)
    for name in ("$MQTT_msgs", "$MQTT_rmsgs", "$MQTT_sess"):
        info = streams[name]["cluster"]
        assert isinstance(info, dict)
        assert len(info["replicas"]) == 2, (name, info)  # plus the leader: 3 copies


def received_events(client: Client) -> list[bytes]:
    return client.received(topic(A, "event"))


def test_cluster_survives_kill_9_of_the_message_stream_leader(cluster: NatsCluster) -> None:
    b = connect(cluster.nodes[2], B, cluster)
    b.publish(topic(B, "status"), b"b-online", retain=True)
    b.close()
    leader = cluster.stream_leader("$MQTT_msgs")
    others = [n for n in cluster.nodes if n is not leader]
    away = connect(leader, COLLECTOR, cluster, "collector-1", clean_session=False)
    away.subscribe(topic(A, "event"))
    away.close()
    a = connect(leader, A, cluster)
    for n in range(3):
        a.publish(topic(A, "event"), f"e{n}".encode())
    leader.kill()
    wait_for(lambda: a.disconnects > 0, 10, what="the station sees its node gone")
    a.close()
    a = wait_for(lambda: _connected(others[0], A, cluster), 60, what="station on another node")
    for n in range(3, 6):
        a.publish(topic(A, "event"), f"e{n}".encode())
    back = wait_for(lambda: _connected(others[1], COLLECTOR, cluster, "collector-1", False), 60,
                    what="the collector's session on another node")
    wait_for(lambda: len(received_events(back)) >= 6, 30, what="queued events after the kill")
    assert received_events(back) == [f"e{n}".encode() for n in range(6)]
    attempts: list[int] = []
    wait_for(lambda: _retained_status(cluster, others[0], attempts), 60,
             what="retained status after kill")
    print(f"retained status after the kill: on subscription {len(attempts)}")
    leader.start()  # rejoins; it serves the retained status again
    late = wait_for(lambda: _connected(leader, COLLECTOR, cluster, "collector-3"), 60,
                    what="a session on the rejoined node")
    late.subscribe(topic(B, "status"))
    wait_for(lambda: late.received(topic(B, "status")) == [b"b-online"], 30, what="rejoined node")
    for client in (a, back, late):
        client.close()


def _connected(node: NatsNode, name: str, cluster: NatsCluster, client_id: str = "",
               clean_session: bool = True) -> Client | None:
    """A connection once the surviving nodes accept MQTT sessions again.

    Until the two elect a new JetStream meta leader a CONNECT gets no CONNACK
    (the node cannot create the session's consumers) or a refusal.
    """
    try:
        return connect(node, name, cluster, client_id, clean_session)
    except AssertionError:
        return None


def _retained_status(cluster: NatsCluster, node: NatsNode, attempts: list[int]) -> bool:
    """A new subscriber gets B's retained status (a new one each try, 10 s each)."""
    attempts.append(1)
    fresh = _connected(node, COLLECTOR, cluster, f"collector-probe-{len(attempts)}")
    if fresh is None:
        return False
    try:
        fresh.subscribe(topic(B, "status"))
        wait_for(lambda: fresh.received(topic(B, "status")), 10, what="retained status")
        return True
    except AssertionError:
        return False
    finally:
        fresh.close()
