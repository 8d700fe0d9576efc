"""The offline station bundle of `make dist`: right wheels, installable with no index.

Every distribution `pantau[agent]` needs has a wheel that CPython 3.11 and
3.12 on x86_64 Linux (glibc 2.28) accept, judged by `packaging.tags` as pip
judges it. Then the bundle is installed as docs/install-station.md says
(`pip install --no-index --find-links wheels 'pantau[agent]'`) into a fresh
environment of each Python this machine has (Debian's 3.11; 3.12 from pyenv
when present), inside `unshare -n` so that any attempt to reach a network
fails, and the installed agent runs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

pytestmark = pytest.mark.install

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "dist"
PYTHONS = {(3, 11): ["/usr/bin/python3.11"],
           (3, 12): ["/usr/bin/python3.12", *sorted(map(str, Path("/root/.pyenv/versions")
                                                         .glob("3.12.*/bin/python3.12")))]}
AGENT_NEEDS = {"pantau", "msgspec", "paho-mqtt", "psutil", "pyusb"}


def bundle() -> Path:
    found = sorted(DIST.glob("pantau-agent-offline-*-cp311-cp312-manylinux_2_28_x86_64.tar.gz"))
    if not found:
        pytest.fail(f"no offline bundle in {DIST}: run `make dist`")
    return found[-1]


def supported(version: tuple[int, int]) -> set[Tag]:
    """What pip on CPython `version`, x86_64 glibc 2.28, installs."""
    platforms = [f"manylinux_2_{minor}_x86_64" for minor in range(28, 4, -1)]
    platforms += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64",
                  "linux_x86_64"]
    abi = f"cp{version[0]}{version[1]}"
    return set(cpython_tags(version, abis=[abi], platforms=platforms)) | \
        set(compatible_tags(version, interpreter=abi, platforms=platforms))


def wheels() -> list[str]:
    with tarfile.open(bundle()) as tar:
        return [m.name.rsplit("/", 1)[1] for m in tar.getmembers() if m.name.endswith(".whl")]


@pytest.mark.parametrize("version", list(PYTHONS), ids=lambda v: f"cp{v[0]}{v[1]}")
def test_every_dependency_has_a_wheel_for(version: tuple[int, int]) -> None:
    tags = supported(version)
    usable = {str(canonicalize_name(parse_wheel_filename(w)[0])) for w in wheels()
              if parse_wheel_filename(w)[3] & tags}
    assert usable >= AGENT_NEEDS, f"no wheel for CPython {version}: {AGENT_NEEDS - usable}"
    # And nothing the agent does not need rides along (no aiohttp, no build tools).
    everything = {str(canonicalize_name(parse_wheel_filename(w)[0])) for w in wheels()}
    assert everything == AGENT_NEEDS


def interpreter(version: tuple[int, int]) -> str:
    for candidate in PYTHONS[version]:
        if Path(candidate).exists():
            return candidate
    pytest.skip(f"no CPython {version[0]}.{version[1]} on this machine "
                f"(looked for {', '.join(PYTHONS[version])})")


@pytest.mark.parametrize("version", list(PYTHONS), ids=lambda v: f"cp{v[0]}{v[1]}")
def test_bundle_installs_offline_and_the_agent_runs(version: tuple[int, int],
                                                     tmp_path: Path) -> None:
    python = interpreter(version)
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    with tarfile.open(bundle()) as tar:
        tar.extractall(tmp_path, filter="data")
    (unpacked,) = tmp_path.glob("pantau-agent-offline-*")
    venv = tmp_path / "venv"
    # No network at all, not just no index: only loopback exists in the new namespace.
    script = (f"'{python}' -m venv '{venv}' && "
              f"'{venv}/bin/pip' install --quiet --disable-pip-version-check --no-index "
              f"--find-links '{unpacked}/wheels' 'pantau[agent]' && "
              f"'{venv}/bin/pip' check && '{venv}/bin/pantau-agent' --version && "
              f"'{venv}/bin/python' -c 'import agent.probes.host, agent.mqtt.publisher, "
              "agent.probes.usb, msgspec, psutil, usb.core; print(\"imports ok\")'")
    done = subprocess.run(["unshare", "--net", "--", "/bin/sh", "-c", script],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"pantau-agent \d", done.stdout) and "imports ok" in done.stdout
    site = venv / "lib" / f"python{version[0]}.{version[1]}" / "site-packages"
    assert not (site / "aiohttp").exists()
