"""A scrape's freed text goes back to the kernel (collector.heap_trim), in a real process.

The pattern of a scrape at fleet scale: ~60 KB chunks of fresh text from the
heap, interleaved with small blocks that stay (a re-rendered station's lines),
then the chunks freed. glibc keeps those pages resident; trim_heap must hand
them back. Run in a child process: a clean heap, and the unit's mmap threshold.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.bench.scrape import unit_environment

REPO = Path(__file__).resolve().parents[3]
CHUNKS, CHUNK = 300, 60_000  # 18 MB, each chunk below the 128 KiB mmap threshold
CHILD = f"""
import json
from collector.heap_trim import trim_heap

def rss():
    line = next(ln for ln in open("/proc/self/status") if ln.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024

chunks, kept = [], []
for i in range({CHUNKS}):
    chunks.append(bytes([i % 251]) * {CHUNK})
    kept.append(bytes([i % 13]) * 700)  # outlives the chunks, above them in the heap
full = rss()
del chunks
freed = rss()
trim_heap()
print(json.dumps({{"full": full, "freed": freed, "trimmed": rss()}}))
"""


def test_trim_hands_back_the_pages_of_a_scrapes_freed_chunks() -> None:
    env = {**os.environ, **unit_environment()}
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60, check=True)
    rss = json.loads(done.stdout)
    size = CHUNKS * CHUNK
    assert rss["full"] - rss["freed"] < size // 4, rss  # glibc kept the freed chunks resident
    assert rss["freed"] - rss["trimmed"] > size // 2, rss  # ... and trim_heap gave them back
