"""Reconnect delays: capped exponential backoff with full jitter.

Why full jitter (uniform(0, min(max, min * 2**n))): after a broker restart
thousands of stations lose their connection in the same second; a delay drawn
from the whole window spreads their reconnects instead of moving the stampede
a few seconds later. paho's own `reconnect_delay_set` has no jitter, so the
publisher drives reconnects itself with this.
"""

from __future__ import annotations

import random

# After a connection that had been up is lost, the first retry is drawn from
# this window, not from reconnect_min_s: a broker restart drops every station
# in the same second, and 5,000 stations must come back spread over >= 30 s
# (issue 5). 40 s keeps a lone station's gap under the collector's stale
# threshold (3 x 15 s heartbeats), since a new session sends a heartbeat at once.
RECONNECT_SPREAD_S = 40.0


def jittered_delay(attempt: int, min_s: float, max_s: float, rng: random.Random) -> float:
    """Delay before reconnect number `attempt` (0 = first retry): uniform over the window."""
    if min_s < 0 or max_s < min_s:
        raise ValueError(f"need 0 <= reconnect_min_s ({min_s}) <= reconnect_max_s ({max_s})")
    # Cap the exponent so 2**attempt cannot overflow a float on a very long outage.
    window = min(max_s, min_s * 2.0 ** min(attempt, 64))
    return rng.uniform(0.0, window)


class Backoff:
    """Counts failed attempts; `reset()` once a connection has proved stable.

    The first retry after a reset is drawn from `first_window_s` (default: the
    restart spread, never above max_s); later ones follow the capped
    exponential window. A lone client (the collector) passes min_s.
    """

    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None,
                 first_window_s: float | None = None) -> None:
        jittered_delay(0, min_s, max_s, random.Random(0))  # validate once, early
        self.min_s = min_s
        self.max_s = max_s
        spread = min(RECONNECT_SPREAD_S, max_s) if first_window_s is None else first_window_s
        self.first_window_s = max(spread, min_s)
        self.attempt = 0
        # Only a connection that was up and got lost (reset) spreads its first
        # retry: a station booting before its network retries from min_s.
        self._lost_stable = False
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        if self.attempt == 0 and self._lost_stable:
            delay = self._rng.uniform(0.0, self.first_window_s)
        else:
            delay = jittered_delay(self.attempt, self.min_s, self.max_s, self._rng)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
        self._lost_stable = True
