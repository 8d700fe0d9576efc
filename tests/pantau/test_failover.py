"""Broker lists: the node order an attempt follows, and a station's first retry window."""

from __future__ import annotations

import random

import pytest

from pantau.backoff import RECONNECT_SPREAD_S
from pantau.broker_config import parse_broker
from pantau.failover import FAILOVER_SPREAD_S, BrokerRotation, station_backoff

A, B, C = "mqtt://a:1883", "mqtt://b:1883", "mqtt://c:1883"


@pytest.mark.parametrize(("urls", "ends", "expected"), [
    ([A], 3, [A, A, A, A]),
    ([A, B], 3, [A, B, A, B]),
    ([A, B, C], 4, [A, B, C, A, B]),
])
def test_each_ended_attempt_moves_to_the_next_node_round_and_round(
    urls: list[str], ends: int, expected: list[str]
) -> None:
    rotation = BrokerRotation(parse_broker({"urls": urls}, "t.toml", "the agent"))
    tried = [rotation.current.url]
    for _ in range(ends):
        tried.append(rotation.move_on().url)
    assert tried == expected
    assert rotation.several == (len(urls) > 1)


def test_the_node_that_works_is_kept() -> None:
    # Nothing moves the rotation but an ended attempt: a working node is where
    # the station stays, with no fail-back to the first.
    rotation = BrokerRotation(parse_broker({"urls": [A, B]}, "t.toml", "the agent"))
    rotation.move_on()
    assert [rotation.current.url for _ in range(3)] == [B, B, B]


@pytest.mark.parametrize(("urls", "window"), [
    ([A], RECONNECT_SPREAD_S),
    ([A, B], FAILOVER_SPREAD_S),
    ([A, B, C], FAILOVER_SPREAD_S),
])
def test_first_retry_after_a_stable_connection(urls: list[str], window: float) -> None:
    broker = parse_broker({"urls": urls}, "t.toml", "the agent")
    firsts = []
    for n in range(2000):
        backoff = station_backoff(broker, random.Random(n))
        backoff.reset()  # the connection had been up, then its node went away
        firsts.append(backoff.next_delay())
    # One node: the restart spread (everyone comes back to the same broker).
    # Several: the failover window (the retry goes to another node).
    assert max(firsts) <= window and max(firsts) > 0.95 * window


def test_the_failover_window_never_exceeds_reconnect_max_s() -> None:
    broker = parse_broker({"urls": [A, B], "reconnect_max_s": 2}, "t.toml", "the agent")
    assert station_backoff(broker, random.Random(1)).first_window_s == 2.0
