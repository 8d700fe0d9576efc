"""Give the C heap's free pages back to the kernel once a /metrics body is sent.

At 10k stations a scrape makes ~7 MB of fresh text (the live families, in
~60 KB chunks: below the mmap threshold the unit pins with
MALLOC_MMAP_THRESHOLD_, so from the heap) and frees it once sent. glibc keeps
such freed chunks resident while anything long-lived sits above them in the
heap: ~0.8 KB of RSS per station between scrapes. `malloc_trim(0)` hands every
free page of every arena back (madvise); ~1 ms here, and the next scrape's
page faults cost about as much. With a C library that has no malloc_trim
(musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library this process runs on
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_TRIM = _malloc_trim()


def trim_heap() -> None:
    if _TRIM is not None:
        _TRIM(0)
