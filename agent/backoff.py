"""Reconnect delays: capped exponential backoff with full jitter.

Why full jitter (uniform(0, min(max, min * 2**n))): after a broker restart
thousands of stations lose their connection in the same second; a delay drawn
from the whole window spreads their reconnects instead of moving the stampede
a few seconds later. paho's own `reconnect_delay_set` has no jitter, so the
publisher drives reconnects itself with this.
"""

from __future__ import annotations

import random


def jittered_delay(attempt: int, min_s: float, max_s: float, rng: random.Random) -> float:
    """Delay before reconnect number `attempt` (0 = first retry): uniform over the window."""
    if min_s < 0 or max_s < min_s:
        raise ValueError(f"need 0 <= reconnect_min_s ({min_s}) <= reconnect_max_s ({max_s})")
    # Cap the exponent so 2**attempt cannot overflow a float on a very long outage.
    window = min(max_s, min_s * 2.0 ** min(attempt, 64))
    return rng.uniform(0.0, window)


class Backoff:
    """Counts failed attempts; `reset()` once a connection has proved stable."""

    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None) -> None:
        jittered_delay(0, min_s, max_s, random.Random(0))  # validate once, early
        self.min_s = min_s
        self.max_s = max_s
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        delay = jittered_delay(self.attempt, self.min_s, self.max_s, self._rng)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
