"""Rate-limited logging for things a remote party can make us log at will.

Garbage on the command or ack topic must not fill the station's disk: each
key logs at most once per interval, and the next line says how many were
suppressed in between.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class LogThrottle:
    def __init__(
        self,
        logger: logging.Logger,
        interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval_s = interval_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, msg: str, *args: object) -> bool:
        """Log `msg` unless `key` logged within the interval; returns whether it logged."""
        return self.log(logging.WARNING, key, msg, *args)

    def log(self, level: int, key: str, msg: str, *args: object, exc_info: bool = False) -> bool:
        """`warning` at any level; `exc_info` adds the traceback of the exception being handled
        (so a failure that repeats per message shows its traceback once per interval)."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._interval_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        self._last[key] = now
        skipped = self._suppressed.pop(key, 0)
        suffix = f" ({skipped} similar suppressed)" if skipped else ""
        self._logger.log(level, msg + suffix, *args, exc_info=exc_info)
        return True
