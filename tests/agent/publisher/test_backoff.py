"""Reconnect delays: full jitter, capped, growing window (pure, seeded)."""

from __future__ import annotations

import random

import pytest

from pantau.backoff import RECONNECT_SPREAD_S, Backoff, jittered_delay


@pytest.mark.parametrize(("attempt", "window"), [
    (0, 1.0), (1, 2.0), (2, 4.0), (5, 32.0), (6, 60.0), (30, 60.0), (10_000, 60.0),
])
def test_delay_stays_inside_the_capped_window(attempt: int, window: float) -> None:
    rng = random.Random(7)
    delays = [jittered_delay(attempt, 1.0, 60.0, rng) for _ in range(500)]
    assert all(0.0 <= d <= window for d in delays)
    assert max(delays) > 0.9 * window  # it uses the whole window ...
    assert len({round(d, 6) for d in delays}) > 400  # ... with jitter, not one value


def test_window_grows_with_attempts_then_caps() -> None:
    backoff = Backoff(0.5, 8.0, random.Random(1))
    maxima = []
    for _ in range(7):
        attempt_rng = random.Random(backoff.attempt)
        maxima.append(max(jittered_delay(backoff.attempt, 0.5, 8.0, attempt_rng)
                          for _ in range(300)))
        backoff.next_delay()
    assert maxima[0] < maxima[1] < maxima[2] < maxima[3] < maxima[4]
    assert max(maxima) <= 8.0 and maxima[-1] > 7.0


def test_same_seed_same_delays_and_reset_starts_over() -> None:
    a, b = Backoff(1.0, 60.0, random.Random(42)), Backoff(1.0, 60.0, random.Random(42))
    assert [a.next_delay() for _ in range(5)] == [b.next_delay() for _ in range(5)]
    a.reset()
    assert a.attempt == 0 and a.next_delay() <= RECONNECT_SPREAD_S


def test_first_retry_after_a_stable_connection_spreads_a_fleet() -> None:
    # A broker restart drops every station at once: their first retries must spread.
    firsts = []
    for n in range(2000):
        backoff = Backoff(1.0, 60.0, random.Random(n))
        backoff.reset()  # the connection had been up, then the broker went away
        firsts.append(backoff.next_delay())
    assert min(firsts) < 1.0 and max(firsts) > 0.9 * RECONNECT_SPREAD_S
    assert all(d <= RECONNECT_SPREAD_S for d in firsts)
    # A station that never connected yet (booted before its network) is not held back.
    assert all(Backoff(1.0, 60.0, random.Random(n)).next_delay() <= 1.0 for n in range(200))
    # The spread never exceeds the cap, and a lone client can ask for none.
    assert Backoff(0.1, 2.0, random.Random(1)).first_window_s == 2.0
    lone = Backoff(0.1, 2.0, random.Random(1), first_window_s=0.1)
    lone.reset()
    assert lone.next_delay() <= 0.1


@pytest.mark.parametrize(("lo", "hi"), [(-1.0, 5.0), (5.0, 1.0)])
def test_bad_bounds_are_refused(lo: float, hi: float) -> None:
    with pytest.raises(ValueError, match="reconnect_min_s"):
        Backoff(lo, hi)
