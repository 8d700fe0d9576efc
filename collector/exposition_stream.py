"""Sending /metrics: the renderer's byte pieces go to the socket as they are.

At 10k stations the exposition is ~50 MB in ~300k pieces, most of them the
per-station lines the renderer keeps cached. Joining them into one body and
handing that to aiohttp copied the text three times (the join, aiohttp's
header+body join, the transport's buffer). Here a worker thread gives the
pieces to the kernel with vectored `sendmsg` calls, so the only copy is the
kernel's, and the event loop goes on applying messages meanwhile. Over TLS
the bytes must pass through the SSL transport: they go in joined batches.
With gzip the whole body is compressed first (level 1, in runs on both worker
threads: zlib releases the GIL) so the response carries its length; zlib's
pieces are sent the same way. Two threads of its own, not the default
executor's several: each thread gets a malloc arena, and those of the default
executor kept ~3 KB per station (the heap is trimmed after each body now, every
arena's: collector.heap_trim).
"""

from __future__ import annotations

import asyncio
import os
import select
import socket
import time
from bisect import bisect_right
from concurrent.futures import ThreadPoolExecutor
from itertools import accumulate
from typing import Final

from aiohttp import web

from collector.exposition_gzip import deflate, gzip_member, runs
from collector.heap_trim import trim_heap

SEND_TIMEOUT_S: Final = 60.0  # a scraper that stops reading is dropped, not waited on forever
_IOV_MAX: Final = os.sysconf("SC_IOV_MAX")
_BATCH_PIECES: Final = 256  # pieces per write over TLS (~60 KB): fewer writes than pieces


_GZIP_RUNS: Final = 2  # one per worker thread (2 cores on the machines measured)


class ExpositionSender:
    """Sends /metrics bodies from worker threads of its own; `close` at shutdown."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=_GZIP_RUNS,
                                          thread_name_prefix="pantau-metrics")

    def close(self) -> None:
        self._thread.shutdown(wait=True, cancel_futures=True)

    async def send(self, request: web.Request, pieces: list[bytes], headers: dict[str, str],
                   gzip: bool) -> web.StreamResponse:
        """`pieces` as the body. The list is emptied once sent, and the pages its text
        held in the C heap go back to the kernel (collector.heap_trim), in the worker."""
        try:
            return await self._send(request, pieces, headers, gzip)
        finally:
            pieces.clear()
            asyncio.get_running_loop().run_in_executor(self._thread, trim_heap)

    async def _send(self, request: web.Request, pieces: list[bytes], headers: dict[str, str],
                    gzip: bool) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        if gzip:
            pieces = await self._gzip(pieces)
            headers = {**headers, "Content-Encoding": "gzip"}
        response = web.StreamResponse(headers=headers)
        response.content_length = sum(map(len, pieces))
        await response.prepare(request)
        transport = request.transport
        if request.method == "HEAD" or transport is None:
            return response
        raw = transport.get_extra_info("socket")
        if (transport.get_extra_info("sslcontext") is not None or raw is None
                or transport.get_write_buffer_size() != 0):
            for start in range(0, len(pieces), _BATCH_PIECES):
                await response.write(b"".join(pieces[start:start + _BATCH_PIECES]))
            return response
        try:
            await loop.run_in_executor(self._thread, send_pieces, raw.fileno(), pieces,
                                       time.monotonic() + SEND_TIMEOUT_S)
        except OSError:
            transport.close()  # the scraper went away or stalled: nothing more to say to it
        return response


    async def _gzip(self, pieces: list[bytes]) -> list[bytes]:
        loop = asyncio.get_running_loop()
        parts = runs(pieces, _GZIP_RUNS)
        deflated = await asyncio.gather(*(
            loop.run_in_executor(self._thread, deflate, part, at == len(parts) - 1)
            for at, part in enumerate(parts)))
        return gzip_member(deflated)


def send_pieces(fd: int, pieces: list[bytes], deadline: float) -> None:
    """Write every piece to the non-blocking socket `fd`, in order, with vectored sends.

    Piece offsets are worked out per batch (a batch's lengths, then one bisection
    after a partial send), not for the whole body at once: 100k integers alive
    through a scrape, while the loop allocates beside them, left holes in the
    allocator's pools. Raises OSError if the peer goes away or the deadline passes.
    """
    sock = socket.socket(fileno=os.dup(fd))  # ours to close; same connection
    try:
        poller = select.poll()
        poller.register(sock, select.POLLOUT)
        first, done = 0, 0  # the first piece not sent whole, and how much of it went
        while first < len(pieces):
            batch: list[bytes | memoryview] = list(pieces[first:first + _IOV_MAX])
            if done:
                batch[0] = memoryview(pieces[first])[done:]
            try:
                sent = sock.sendmsg(batch)
            except (BlockingIOError, InterruptedError):
                _wait_writable(poller, deadline)
                continue
            ends = list(accumulate(map(len, batch)))
            whole = bisect_right(ends, sent)
            done = (done if whole == 0 else 0) + sent - (ends[whole - 1] if whole else 0)
            first += whole
    finally:
        sock.close()


def _wait_writable(poller: select.poll, deadline: float) -> None:
    left = deadline - time.monotonic()
    if left <= 0 or not poller.poll(left * 1000):
        raise TimeoutError("the scraper stopped reading /metrics")
