"""The supervisor thread: run one connection at a time, back off between them.

Kept apart from paho so the life cycle is plain to read: `run_once` connects
and returns when that connection is over (with how long it was up); this loop
waits a jittered delay and calls it again until stopped. A connection that
stayed up at least `stable_after_s` resets the backoff; one that keeps
flapping keeps backing off. The loop notes a tick at least once a second (and
before each attempt) so `healthy()` can tell a live supervisor from a stuck one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from pantau.backoff import Backoff

log = logging.getLogger(__name__)


class ReconnectLoop:
    def __init__(self, run_once: Callable[[], float], backoff: Backoff, *,
                 stable_after_s: float, stuck_after_s: float, name: str) -> None:
        self._run_once = run_once
        self._backoff = backoff
        self._stable_after_s = stable_after_s
        self._stuck_after_s = stuck_after_s
        self._name = name
        self.stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._tick = time.monotonic()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float) -> None:
        self.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def tick(self) -> None:
        self._tick = time.monotonic()

    def healthy(self) -> bool:
        thread = self._thread
        return (thread is not None and thread.is_alive()
                and time.monotonic() - self._tick < self._stuck_after_s)

    def _run(self) -> None:
        while not self.stop_event.is_set():
            self.tick()
            try:
                connected_for = self._run_once()
            except Exception:  # never let the supervisor die: it is the watchdog's signal
                log.exception("unexpected error in the %s supervisor; reconnecting", self._name)
                connected_for = 0.0
            if self.stop_event.is_set():
                break
            if connected_for >= self._stable_after_s:
                self._backoff.reset()
            self._sleep(self._backoff.next_delay())

    def _sleep(self, delay: float) -> None:
        end = time.monotonic() + delay
        while not self.stop_event.is_set() and (left := end - time.monotonic()) > 0:
            self.tick()
            self.stop_event.wait(min(left, 1.0))
