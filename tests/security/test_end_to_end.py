"""Spoofing end to end: production broker config over TLS, the real collector and agent.

tests/deploy/test_mosquitto_acl.py proves the ACL at the broker (a subscriber
sees nothing). Here the question is what the COLLECTOR accepts: a station
that forges another's topics or payloads must change nothing it stores or
shows. Ordering makes the checks sleep-free: a client's QoS 1 messages reach
the collector in order, so once its later, legitimate marker message shows in
the API, any earlier forged message would have been applied already.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from pantau import wire
from tests.deploy.tls_broker import Client, TlsBroker
from tests.fuzz import samples
from tests.security.stack import AGENT, SITE, A, B, Stack, http, metric, topic
from tests.support.mosquitto import wait_for

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(TlsBroker(tmp_path_factory.mktemp("security")).prepare())
    try:  # a failed start must not leave the broker, collector or agent running
        passwords = {name: s.enroll(name) for name in (A, B)}
        (s.workdir / "passwords.json").write_text(json.dumps(passwords))
        s.broker.start()
        s.start_collector()
        s.start_agent(AGENT)
        wait_for(lambda: s.station_view(AGENT)["state"] == "online", 30, what="agent online")
        yield s
    finally:
        s.stop()


def password(stack: Stack, station: str) -> str:
    return str(json.loads((stack.workdir / "passwords.json").read_text())[station])


def payload(kind: wire.MessageKind, station: str, seq: int) -> bytes:
    doc = samples.valid_builtin(kind)
    if kind in ("heartbeat", "event"):
        doc.update(site=SITE, station=station, seq=seq, ts=1.7e9 + seq)
    return samples.to_json(doc)


def marker_heartbeat(stack: Stack, sender: Client, station: str, seq: int) -> None:
    """Send a legitimate heartbeat and wait until the collector shows it."""
    sender.publish(topic(station, "heartbeat"), payload("heartbeat", station, seq))
    wait_for(lambda: stack.station_view(station)["last_heartbeat_ts"] == 1.7e9 + seq, 10,
             what=f"marker heartbeat {seq} of {station} in the API")


def victim_untouched(stack: Stack, victim: str) -> None:
    view = stack.station_view(victim)
    assert (view["state"], view["boot_id"], view["last_heartbeat_ts"]) == (
        "never_seen", None, None), view
    status, body = http(f"{stack.base}/api/v1/events?station={victim}")
    assert status == 200 and json.loads(body)["events"] == [], body


def test_plain_tcp_to_the_tls_listener_gets_no_connack(stack: Stack) -> None:
    connect = bytes([0x10, 12, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 30, 0, 0])  # anonymous, clean
    with socket.create_connection(("127.0.0.1", stack.broker.port), timeout=5) as sock:
        sock.sendall(connect)
        try:
            reply = sock.recv(64)  # closed, reset or a TLS alert: never a CONNACK (0x20)
        except ConnectionResetError:
            reply = b""
    assert not reply.startswith(b"\x20"), reply


def test_forged_topics_of_another_station_change_nothing_at_the_collector(stack: Stack) -> None:
    a = stack.client(A, password(stack, A))
    for kind in ("status", "heartbeat", "event"):
        a.publish(topic(B, kind), payload(kind, B, 1), retain=kind != "event")
        a.publish(topic(B, kind, site="medan-kota"), payload(kind, B, 1))
    marker_heartbeat(stack, a, A, 10)
    victim_untouched(stack, B)
    a.close()


def test_payload_naming_another_station_is_rejected_and_counted(stack: Stack) -> None:
    before = metric(http(stack.base + "/metrics")[1].decode(),
                    "pantau_collector_rejected_messages_total", 'reason="mismatch"')
    a = stack.client(A, password(stack, A))
    a.publish(topic(A, "heartbeat"), payload("heartbeat", B, 2))  # own topic, B's name inside
    a.publish(topic(A, "event"), payload("event", B, 2))
    marker_heartbeat(stack, a, A, 11)
    after = metric(http(stack.base + "/metrics")[1].decode(),
                   "pantau_collector_rejected_messages_total", 'reason="mismatch"')
    assert after - before == 2
    victim_untouched(stack, B)
    a.close()


def test_client_id_takeover_does_not_disturb_the_real_agent(stack: Stack) -> None:
    since = stack.station_view(AGENT)["state_since"]
    a = stack.client(A, password(stack, A), client_id=f"pantau-agent-{AGENT}")
    a.publish(topic(AGENT, "status"), b'{"state":"lost","boot_id":"x","session":999}', retain=True)
    marker_heartbeat(stack, a, A, 12)
    view = stack.station_view(AGENT)
    assert (view["state"], view["state_since"]) == ("online", since), view
    a.close()
