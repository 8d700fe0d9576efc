"""The systemd units' /proc sandbox: what the services read from /proc is there.

systemd implements ProtectProc= and ProcSubset= by mounting a private /proc
with hidepid= and subset= options. This mounts /proc the same way (the
mapping is the install test's systemctl shim's, which starts the installed
units like this) in a fresh mount and PID namespace and runs the code that
reads it: the collector's process_* sample, the agent's host figures.
The full units run in tests/install.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.install.systemctl_shim import Unit, parse_into, proc_mount_options

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
# (unit, Python that must run under its /proc and print "ok")
READERS = [
    ("pantau-collector.service",
     "from collector.process_metrics import sample; s = sample(); "
     "assert s.start_time_seconds > 1e9 and s.resident_memory_bytes > 0; print('ok')"),
    ("pantau-agent.service",
     "import psutil; assert psutil.boot_time() > 1e9 and psutil.cpu_percent() >= 0; "
     "assert psutil.virtual_memory().total > 0; print('ok')"),
]


def unit(name: str) -> Unit:
    parsed = Unit(name, UNITS / name)
    parse_into(parsed, UNITS / name)
    return parsed


@pytest.mark.parametrize(("name", "code"), READERS, ids=[r[0] for r in READERS])
def test_what_the_service_reads_from_proc_is_visible_in_its_sandbox(name: str, code: str) -> None:
    options = proc_mount_options(unit(name))
    assert "hidepid=invisible" in options  # the sandbox is on: other processes stay hidden
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    done = subprocess.run(
        ["unshare", "--mount", "--pid", "--fork", "--propagation", "private", "--",
         "/bin/sh", "-c", 'mount -t proc -o "$1" proc /proc && shift && exec "$@"', "sh",
         options, sys.executable, "-c", code],
        capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0 and "mount" in done.stderr and "ermission" in done.stderr:
        pytest.skip(f"cannot mount /proc in a new namespace here (needs root): {done.stderr}")
    assert done.returncode == 0 and done.stdout.strip() == "ok", \
        f"{name} with /proc mounted -o {options}:\n{done.stderr}"


def test_the_collector_image_sets_the_units_allocator_environment() -> None:
    """docs/performance.md: RSS per station is measured with the unit's Environment=; the
    container image must run the collector the same way."""
    wanted = set(unit("pantau-collector.service").all("Environment"))
    assert wanted == {"MALLOC_MMAP_THRESHOLD_=131072"}
    dockerfile = (UNITS.parent / "docker" / "collector.Dockerfile").read_text()
    image = {ln.removeprefix("ENV ").strip() for ln in dockerfile.splitlines()
             if ln.startswith("ENV ")}
    assert wanted <= image
