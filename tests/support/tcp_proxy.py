"""A small asyncio TCP proxy for fault tests: the "network" between agents and the broker.

netem and iptables are not available on CI, so the link's faults are made
here, in user space, on loopback:

* ``pass``      — forward both ways;
* ``delay``     — every chunk waits `delay_s` before it is forwarded (latency);
* ``throttle``  — at most `bytes_per_s` per direction per connection (a slow link);
* ``blackhole`` — accept connections but forward nothing, either way, and close
                  nothing: what a cut district link looks like to both ends;
* ``reset``     — close every open connection at once (RST-like; a flaky link);
* ``cut_clients`` — a blackhole whose client side is reset: the client hears of
                  it at once and moves on, the broker's side stays open and hears
                  nothing (its keepalive fires the client's Will later).

The proxy runs its own event loop in a daemon thread so that synchronous
tests (and the threads of in-process agents) can drive it with plain calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tests.support.mosquitto import free_port

_CHUNK = 16384
_T = TypeVar("_T")


@dataclass
class LinkSettings:
    blackhole: bool = False
    delay_s: float = 0.0
    bytes_per_s: float | None = None  # None: unthrottled


@dataclass
class ProxyStats:
    accepted: int = 0
    resets: int = 0
    bytes_forwarded: int = 0
    bytes_held: int = 0  # swallowed while blackholed


@dataclass(eq=False)  # identity: kept in a set
class _Conn:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.settings = LinkSettings()
        self.stats = ProxyStats()
        self._conns: set[_Conn] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy",
                                        daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    # --- control (from any thread) ------------------------------------------------

    def start(self) -> TcpProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def pass_through(self) -> None:
        self.settings = LinkSettings()

    def blackhole(self) -> None:
        self.settings = LinkSettings(blackhole=True)

    def slow(self, delay_s: float = 0.0, bytes_per_s: float | None = None) -> None:
        self.settings = LinkSettings(delay_s=delay_s, bytes_per_s=bytes_per_s)

    def reset_all(self) -> int:
        """Close every open connection now; returns how many were cut."""
        return self._call(self._reset_all())

    def cut_clients(self) -> int:
        """Blackhole, and reset the client end of every open connection; returns how many."""
        self.blackhole()
        return self._call(self._reset_clients())

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    def _call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    # --- the loop side ------------------------------------------------------------

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._reset_all()

    async def _reset_all(self) -> int:
        conns = list(self._conns)
        for conn in conns:
            _abort(conn.client)
            _abort(conn.upstream)
            for task in conn.tasks:
                task.cancel()
        self._conns.clear()
        self.stats.resets += len(conns)
        return len(conns)

    async def _reset_clients(self) -> int:
        for conn in self._conns:
            _abort(conn.client)
        return len(self._conns)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:  # broker down: the client sees the connection close, as on a real link
            _abort(writer)
            return
        conn = _Conn(writer, up_writer)
        self._conns.add(conn)
        conn.tasks = [asyncio.ensure_future(self._pump(reader, up_writer, conn)),
                      asyncio.ensure_future(self._pump(up_reader, writer, conn))]

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                    conn: _Conn) -> None:
        try:
            while data := await src.read(_CHUNK):
                await self._forward(data, dst)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            # One side ended: end both, like a TCP connection through a NAT box — unless
            # the link is cut: then the far end hears nothing (a power cut sends no FIN).
            if conn in self._conns and not self.settings.blackhole:
                self._conns.discard(conn)
                with contextlib.suppress(OSError):
                    conn.client.close()
                    conn.upstream.close()

    async def _forward(self, data: bytes, dst: asyncio.StreamWriter) -> None:
        s = self.settings
        if s.blackhole:
            self.stats.bytes_held += len(data)
            return
        if s.delay_s:
            await asyncio.sleep(s.delay_s)
        if s.bytes_per_s:
            await self._throttled(data, dst, s.bytes_per_s)
        else:
            dst.write(data)
            await dst.drain()
        self.stats.bytes_forwarded += len(data)

    @staticmethod
    async def _throttled(data: bytes, dst: asyncio.StreamWriter, rate: float) -> None:
        step = max(1, int(rate / 20))  # 20 slices a second keeps the rate smooth
        for start in range(0, len(data), step):
            began = time.monotonic()
            dst.write(data[start:start + step])
            await dst.drain()
            await asyncio.sleep(max(0.0, step / rate - (time.monotonic() - began)))


def _abort(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    with contextlib.suppress(OSError, AttributeError):
        # SO_LINGER 0: closing sends RST, like a NAT box forgetting the flow.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
