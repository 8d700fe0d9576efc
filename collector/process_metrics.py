"""The standard `process_*` figures of this process, read from /proc (Linux).

Sampling does the I/O; rendering /metrics only formats the last sample, so a
scrape never blocks on the file system. The app samples periodically.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path
from typing import Final

_PROC: Final = Path("/proc")


@dataclass(frozen=True)
class ProcessSample:
    cpu_seconds_total: float
    resident_memory_bytes: int
    virtual_memory_bytes: int
    open_fds: int
    max_fds: int
    start_time_seconds: float


def sample(proc: Path = _PROC) -> ProcessSample:
    """Read /proc/self; raises OSError where there is no /proc (not Linux)."""
    stat = (proc / "self" / "stat").read_text()
    # Fields after the command name, which is in parentheses and may hold spaces.
    fields = stat[stat.rindex(")") + 2:].split()
    ticks = os.sysconf("SC_CLK_TCK")
    utime, stime, starttime = int(fields[11]), int(fields[12]), int(fields[19])
    return ProcessSample(
        cpu_seconds_total=(utime + stime) / ticks,
        resident_memory_bytes=int(fields[21]) * os.sysconf("SC_PAGE_SIZE"),
        virtual_memory_bytes=int(fields[20]),
        open_fds=len(os.listdir(proc / "self" / "fd")),
        max_fds=resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        start_time_seconds=_boot_time(proc) + starttime / ticks,
    )


def _boot_time(proc: Path) -> float:
    for line in (proc / "stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise OSError(f"no btime line in {proc / 'stat'}")
