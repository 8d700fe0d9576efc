"""Where password hashes run: one at a time, on a low-priority thread, within a CPU budget.

A scrypt check costs ~0.1 s of CPU and 32 MiB of memory traffic; anyone who can reach the
HTTP port can ask for one per request. So a flood of bad logins must not take the CPU that
MQTT ingest needs (the collector's event loop and the broker share a small machine):

- one hash at a time (HASH_THREADS), on a thread of its own, never the event loop;
- that thread at a lower priority (HASH_NICENESS; on Linux a thread's niceness is its own);
- a duty cycle: after a hash that took c seconds of CPU the next one waits
  c x (1 / HASH_DUTY - 1), so hashing takes at most HASH_DUTY of one core however many
  logins come;
- at most MAX_WAITING logins wait for their turn; the others are told to come back later.

A verified login is cached by collector/http_auth.py, so Prometheus' scrapes never wait here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final, Protocol

HASH_THREADS: Final = 1
HASH_NICENESS: Final = 10
HASH_DUTY: Final = 0.25  # at most a quarter of one core: ~2.5 checks/s at the default cost
MAX_WAITING: Final = 16  # logins queued for a hash (~6 s at the default cost); beyond: busy


class Verifiable(Protocol):
    def verify(self, password: bytes) -> bool: ...


def _timed(hashed: Verifiable, password: bytes) -> tuple[bool, float]:
    started = time.thread_time()
    ok = hashed.verify(password)
    return ok, time.thread_time() - started


def _lower_priority() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the default priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)


class HashGate:
    def __init__(self, *, duty: float = HASH_DUTY, max_waiting: int = MAX_WAITING,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._pool = ThreadPoolExecutor(max_workers=HASH_THREADS, initializer=_lower_priority,
                                        thread_name_prefix="pantau-scrypt")
        self._turn = asyncio.Lock()
        self._rest = 1.0 / duty - 1.0  # seconds of pause per second of hashing
        self._max_waiting = max_waiting
        self._clock = clock
        self._next_start = 0.0
        self.waiting = 0  # logins waiting for a hash or being hashed now

    async def verify(self, hashed: Verifiable, password: bytes) -> bool | None:
        """Whether `password` matches, or None when too many logins wait already."""
        if self.waiting >= self._max_waiting:
            return None
        self.waiting += 1
        try:
            async with self._turn:
                pause = self._next_start - self._clock()
                if pause > 0:
                    await asyncio.sleep(pause)  # the budget, not a wait for an event
                ok, cpu = await asyncio.get_running_loop().run_in_executor(
                    self._pool, _timed, hashed, password)
                self._next_start = self._clock() + cpu * self._rest
                return ok
        finally:
            self.waiting -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
