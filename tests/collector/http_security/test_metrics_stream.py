"""/metrics pieces reach the scraper whole and in order: vectored sends on plain TCP
(partial sends, a full socket buffer, more pieces than IOV_MAX), joined batches over TLS,
HEAD, a scraper that stops reading, one that hangs up halfway."""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import ClientSession, TCPConnector, web

from collector.exposition_gzip import accepts_gzip
from collector.exposition_stream import ExpositionSender, send_pieces
from tests.collector.http_security.pki import Pki
from tests.support.mosquitto import free_port

PieceMaker = Callable[[], list[bytes]]
SHAPES: dict[str, PieceMaker] = {
    "many small (> IOV_MAX per call)": lambda: [b"x%d\n" % i for i in range(50_000)],
    "empty pieces between": lambda: [b"", b"a" * 10, b"", b"", b"b" * 3, b""] * 3000,
    "pieces larger than the socket buffer": lambda: [bytes([65 + i]) * 3_000_000
                                                     for i in range(3)],
    "mixed": lambda: [b"%d" % i * (i % 700) for i in range(20_000)],
    "nothing": lambda: [],
}


def slow_reader(sock: socket.socket, into: bytearray) -> threading.Thread:
    """Reads 4 KiB at a time, so the sender (4 KiB send buffer) meets a full one again and again."""
    def run() -> None:
        while chunk := sock.recv(4096):
            into.extend(chunk)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_byte_arrives_in_order_through_partial_sends(shape: str) -> None:
    pieces = SHAPES[shape]()
    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    ours.setblocking(False)
    got = bytearray()
    reader = slow_reader(theirs, got)
    send_pieces(ours.fileno(), pieces, time.monotonic() + 60)
    ours.close()
    reader.join(60)
    assert bytes(got) == b"".join(pieces)


def test_a_scraper_that_stops_reading_is_dropped_at_the_deadline() -> None:
    pieces = [b"y" * 1_000_000] * 20
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    with pytest.raises(TimeoutError):
        send_pieces(ours.fileno(), pieces, time.monotonic() + 0.5)
    ours.close()
    theirs.close()


BODY = [b"# HELP a A.\n# TYPE a gauge\n"] + [b'a{station="st-%05d"} %d\n' % (i, i)
                                             for i in range(40_000)]


SENDER = web.AppKey("sender", ExpositionSender)
GIVEN: list[list[bytes]] = []  # every body handed to the sender, as the handler made it


async def handler(request: web.Request) -> web.StreamResponse:
    gz = accepts_gzip(request.headers.get("Accept-Encoding", ""))
    GIVEN.append(pieces := list(BODY))
    return await request.app[SENDER].send(request, pieces, {"Content-Type": "text/plain"}, gz)


@asynccontextmanager
async def serving(context: ssl.SSLContext | None) -> AsyncIterator[str]:
    app = web.Application()
    app[SENDER] = ExpositionSender()
    app.router.add_get("/metrics", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    try:
        yield f"{'https' if context else 'http'}://127.0.0.1:{port}/metrics"
    finally:
        await runner.cleanup()
        app[SENDER].close()


def tls_pair(pki: Pki) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pki.cert, pki.key)
    return server, ssl.create_default_context(cafile=str(pki.ca))


@pytest.mark.parametrize("tls", [False, True], ids=["plain TCP", "TLS"])
async def test_http_bodies_are_the_exposition_plain_gzip_and_head(tls: bool, pki: Pki) -> None:
    server_ctx, client_ctx = tls_pair(pki) if tls else (None, None)
    async with serving(server_ctx) as url, ClientSession(
        connector=TCPConnector(ssl=client_ctx or False), auto_decompress=False,
    ) as http:
        for _ in range(2):  # twice on one kept-alive connection: the stream ends cleanly
            async with http.get(url, headers={"Accept-Encoding": "identity"}) as plain:
                assert plain.headers["Content-Length"] == str(len(b"".join(BODY)))
                assert await plain.read() == b"".join(BODY)
        async with http.get(url, headers={"Accept-Encoding": "gzip"}) as packed:
            assert packed.headers["Content-Encoding"] == "gzip"
            assert gzip.decompress(await packed.read()) == b"".join(BODY)
        async with http.head(url, headers={"Accept-Encoding": "identity"}) as head:
            assert head.headers["Content-Length"] == str(len(b"".join(BODY)))
            assert await head.read() == b""


async def test_the_sender_lets_go_of_each_body_once_sent() -> None:
    """The text can be freed at once, and the heap trimmed (collector.heap_trim)."""
    GIVEN.clear()
    async with serving(None) as url, ClientSession(auto_decompress=False) as http:
        for coding in ("identity", "gzip"):
            async with http.get(url, headers={"Accept-Encoding": coding}) as resp:
                assert len(await resp.read()) > 0
    assert [len(pieces) for pieces in GIVEN] == [0, 0]


async def test_a_scraper_hanging_up_halfway_leaves_the_server_serving() -> None:
    async with serving(None) as url:
        port = int(url.split(":")[2].split("/")[0])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        await reader.read(1000)
        writer.transport.abort()  # reset, with most of the body unsent
        async with ClientSession() as http, http.get(url) as again:
            assert await again.read() == b"".join(BODY)
