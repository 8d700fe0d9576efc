"""A minimal QMP (QEMU Machine Protocol) client: commands and events over a unix socket."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any


class QmpError(RuntimeError):
    pass


class Qmp:
    def __init__(self, path: str, timeout: float = 30.0) -> None:
        self._sock = self._connect(path, timeout)
        self._file = self._sock.makefile("rw", encoding="utf-8")
        self._cv = threading.Condition()
        self._replies: list[dict[str, Any]] = []
        self.events: list[tuple[float, dict[str, Any]]] = []
        json.loads(self._file.readline())  # greeting
        threading.Thread(target=self._read, daemon=True).start()
        self.command("qmp_capabilities")

    @staticmethod
    def _connect(path: str, timeout: float) -> socket.socket:
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX)
            try:
                sock.connect(path)
                return sock
            except OSError:
                sock.close()
                if time.monotonic() > deadline:
                    raise QmpError(f"QEMU's QMP socket {path} did not open in {timeout}s") from None
                time.sleep(0.05)  # polling a socket that QEMU has not created yet

    def _read(self) -> None:
        for line in self._file:
            msg = json.loads(line)
            with self._cv:
                if "event" in msg:
                    self.events.append((time.monotonic(), msg))
                else:
                    self._replies.append(msg)
                self._cv.notify_all()

    def command(self, name: str, timeout: float = 10.0, **arguments: Any) -> Any:
        with self._cv:
            seen = len(self._replies)
            self._file.write(json.dumps({"execute": name, "arguments": arguments}) + "\n")
            self._file.flush()
            if not self._cv.wait_for(lambda: len(self._replies) > seen, timeout):
                raise QmpError(f"no reply to {name} within {timeout}s")
            reply = self._replies[seen]
        if "error" in reply:
            raise QmpError(f"{name}{arguments}: {reply['error']}")
        return reply.get("return")

    def wait_event(self, name: str, since: float, timeout: float = 10.0, **data: Any) -> float:
        def match() -> float | None:
            for at, msg in self.events:
                got = msg.get("data", {})
                if (
                    at >= since
                    and msg["event"] == name
                    and all(got.get(k) == v for k, v in data.items())
                ):
                    return at
            return None

        with self._cv:
            if not self._cv.wait_for(lambda: match() is not None, timeout):
                raise QmpError(f"QMP event {name} {data} did not arrive within {timeout}s")
            return match()  # type: ignore[return-value]

    def close(self) -> None:
        self._sock.close()
