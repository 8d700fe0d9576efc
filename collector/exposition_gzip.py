"""gzip for /metrics: Prometheus always asks for it, and the text is tens of MB.

zlib level 1: at 10k stations the body shrinks ~9x in about the time the
plain render takes; higher levels cost several times more for a few percent.
"""

from __future__ import annotations

import zlib
from typing import Final

GZIP_LEVEL: Final = 1
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS  # a gzip header and trailer, not raw zlib
_BATCH_PIECES: Final = 256  # pieces per zlib call (~60 KB): fewer calls than pieces


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


def gzip_pieces(pieces: list[bytes]) -> list[bytes]:
    """The pieces' concatenation as one gzip member, in the pieces zlib hands back (no
    joined body: see station_metrics.LINES_PER_CHUNK on large transient allocations)."""
    packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
    out = [packer.compress(b"".join(pieces[start:start + _BATCH_PIECES]))
           for start in range(0, len(pieces), _BATCH_PIECES)]
    out.append(packer.flush())
    return out
