"""Broker lists: which node to try next, and a station's backoff between tries.

A connection attempt that ends for any reason (refused, unreachable, no
CONNACK, or an established connection lost) moves to the next node of the
list, round and round; a connection that works is kept for as long as it
works. There is no automatic fail-back to the first node: every node of a
cluster serves the same topics, and a return trip would cost each station
one more reconnect (and the collector a burst of births) for nothing.
"""

from __future__ import annotations

import random

from pantau.backoff import Backoff
from pantau.broker_config import BrokerConfig, BrokerEndpoint

# A station that loses its node after a stable connection draws its first retry
# from this window instead of the restart spread (pantau.backoff, 40 s): with a
# list the retry goes to another node, and that node takes only the lost node's
# share of the fleet. For k nodes and N stations, each survivor sees
# N / (k (k - 1) 10 s) connects a second, N/60 for k = 3, no more than a lone
# broker's restart (N / 40 s); p95 of the failover stays under 15 s
# (tests/bench/failover.py).
FAILOVER_SPREAD_S = 10.0


class BrokerRotation:
    """The node to connect to now; `move_on()` after an attempt or connection ends."""

    def __init__(self, broker: BrokerConfig) -> None:
        self._nodes = broker.endpoints
        self._index = 0

    @property
    def current(self) -> BrokerEndpoint:
        return self._nodes[self._index]

    @property
    def several(self) -> bool:
        return len(self._nodes) > 1

    def move_on(self) -> BrokerEndpoint:
        self._index = (self._index + 1) % len(self._nodes)
        return self.current


def station_backoff(broker: BrokerConfig, rng: random.Random | None = None) -> Backoff:
    """The agent's reconnect backoff: the failover spread when there is another node."""
    several = len(broker.endpoints) > 1
    window = min(FAILOVER_SPREAD_S, broker.reconnect_max_s) if several else None
    return Backoff(broker.reconnect_min_s, broker.reconnect_max_s, rng, first_window_s=window)
