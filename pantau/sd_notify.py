"""systemd notification protocol (sd_notify) over the stdlib socket module.

A datagram to $NOTIFY_SOCKET with "READY=1", "WATCHDOG=1", "STOPPING=1" or
"STATUS=…". Outside systemd (no NOTIFY_SOCKET) every call is a no-op, so the
agent runs the same under a terminal, in tests and in the simulator.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        # A leading "@" names a Linux abstract socket, which starts with a NUL byte.
        self._address = "\0" + address[1:] if address and address.startswith("@") else address
        self._watchdog_usec = watchdog_usec
        self._failed_once = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        # WATCHDOG_PID set for another process means the watchdog is not ours.
        ours = not pid or pid == str(os.getpid())
        return cls(env.get("NOTIFY_SOCKET") or None, int(usec) if usec.isdigit() and ours else None)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """How often to send WATCHDOG=1: half the timeout, as sd_watchdog_enabled(3) advises."""
        if not self._watchdog_usec:
            return None
        return self._watchdog_usec / 2_000_000

    @property
    def watchdog_timeout_s(self) -> float | None:
        return self._watchdog_usec / 1_000_000 if self._watchdog_usec else None

    def notify(self, *states: str) -> bool:
        if self._address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto("\n".join(states).encode(), self._address)
        except OSError as exc:
            if not self._failed_once:  # log once: it would repeat every few seconds
                log.warning("cannot notify systemd at %s: %s", self._address, exc)
                self._failed_once = True
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")
