"""gzip for /metrics: Prometheus always asks for it, and the text is tens of MB.

zlib level 1: at 10k stations the body shrinks ~20x in about the time the
plain render takes; higher levels cost several times more for a few percent.
The body is deflated in runs of about equal size on as many threads (zlib
releases the GIL), each run a raw deflate stream ending on a byte boundary, the
last one final; their concatenation behind one gzip header, with the CRC-32 of
the whole text combined from the runs', is one gzip member (RFC 1951, 1952).
"""

from __future__ import annotations

import struct
import zlib
from itertools import pairwise
from typing import Final, NamedTuple

GZIP_LEVEL: Final = 1
_BATCH_PIECES: Final = 256  # pieces per zlib call (~60 KB): fewer calls than pieces
# ID1 ID2, CM deflate, no flags, no mtime, XFL 4 (fastest), OS 255 (unknown).
_HEADER: Final = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\xff"
_CRC_POLY: Final = 0xEDB88320  # CRC-32 as gzip uses it, bits reflected


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header allows gzip (RFC 9110: `gzip;q=0` refuses it)."""
    for item in accept_encoding.split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "x-gzip", "*"):
            continue
        q = params.strip().lower().removeprefix("q=")
        try:
            return not params.strip() or float(q) > 0
        except ValueError:
            return False
    return False


class Deflated(NamedTuple):
    out: list[bytes]  # raw deflate output, in zlib's pieces (no joined body)
    crc: int  # CRC-32 of the run's text
    size: int  # bytes of text


def runs(pieces: list[bytes], count: int) -> list[list[bytes]]:
    """`pieces` cut into `count` runs of about equal bytes, in order."""
    share = sum(map(len, pieces)) / count
    cuts, done = [0], 0
    for start in range(0, len(pieces), _BATCH_PIECES):  # a cut per batch is close enough
        done += sum(map(len, pieces[start:start + _BATCH_PIECES]))
        if len(cuts) < count and done >= share * len(cuts):
            cuts.append(min(start + _BATCH_PIECES, len(pieces)))
    cuts += [len(pieces)] * (count + 1 - len(cuts))
    return [pieces[a:b] for a, b in pairwise(cuts)]


def deflate(pieces: list[bytes], last: bool) -> Deflated:
    """One run as raw deflate; a run that is not `last` ends on a byte boundary, unfinished."""
    packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    out: list[bytes] = []
    crc = size = 0
    for start in range(0, len(pieces), _BATCH_PIECES):
        batch = b"".join(pieces[start:start + _BATCH_PIECES])
        crc, size = zlib.crc32(batch, crc), size + len(batch)
        out.append(packer.compress(batch))
    out.append(packer.flush() if last else packer.flush(zlib.Z_SYNC_FLUSH))
    return Deflated(out, crc, size)


def gzip_member(deflated: list[Deflated]) -> list[bytes]:
    """The runs (the last one `last`) as the pieces of one gzip member."""
    crc = size = 0
    for run in deflated:
        crc, size = crc32_combine(crc, run.crc, run.size), size + run.size
    trailer = struct.pack("<II", crc, size & 0xFFFFFFFF)
    return [_HEADER, *(piece for run in deflated for piece in run.out), trailer]


def gzip_pieces(pieces: list[bytes]) -> list[bytes]:
    """The pieces' concatenation as one gzip member, on this thread."""
    return gzip_member([deflate(pieces, last=True)])


def crc32_combine(crc1: int, crc2: int, size2: int) -> int:
    """The CRC-32 of A + B from A's, B's and B's length (zlib's crc32_combine, which
    Python's zlib does not offer): A's CRC times x^(8 * size2), plus B's."""
    return _times(_x_to_the_8n(size2), crc1) ^ crc2


def _times(a: int, b: int) -> int:
    """a * b modulo the CRC polynomial (bit-reflected: bit 31 is x^0)."""
    product, bit = 0, 1 << 31
    while a:
        if a & bit:
            product ^= b
            a ^= bit
        bit >>= 1
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1
    return product


def _x_to_the_8n(n: int) -> int:
    """x^(8n) modulo the polynomial, by squaring: x^8 is 1 << 23 reflected."""
    result, power = 1 << 31, 1 << 23
    while n:
        if n & 1:
            result = _times(power, result)
        power = _times(power, power)
        n >>= 1
    return result
