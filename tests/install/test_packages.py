"""The .debs of `make dist`, looked at from outside: lintian, contents, dependencies.

Installing them, running their maintainer scripts and their services is
test_install.py; this is what `dpkg-deb` and `lintian` say about the files.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.install

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "dist"
PACKAGING_DOC = REPO / "docs" / "packaging.md"
SITE = "opt/pantau/{role}/lib/python3.11/site-packages"

# role -> (top-level packages it must carry, ones it must not)
CONTENTS = {
    "agent": ({"agent", "pantau", "paho", "psutil", "usb", "msgspec"},
              {"collector", "stack", "aiohttp", "multidict", "yarl"}),
    "collector": ({"collector", "pantau", "paho", "aiohttp", "msgspec"},
                  {"agent", "stack", "psutil", "usb"}),
}
# role -> files a package installs outside its environment
FILES = {
    "agent": {"lib/systemd/system/pantau-agent.service", "lib/udev/rules.d/70-pantau.rules",
              "usr/lib/sysusers.d/pantau-agent.conf", "usr/lib/tmpfiles.d/pantau-agent.conf",
              "usr/share/pantau/profiles/ektp-enrollment.toml", "etc/pantau/agent.example.toml",
              "usr/bin/pantau-agent", "usr/share/doc/pantau-agent/copyright"},
    "collector": {"lib/systemd/system/pantau-collector.service",
                  "usr/lib/sysusers.d/pantau-collector.conf",
                  "usr/lib/tmpfiles.d/pantau-collector.conf", "usr/sbin/pantau-ca",
                  "usr/sbin/pantau-enroll-station", "usr/sbin/pantau-retire-station",
                  "etc/pantau/collector.example.toml", "etc/pantau/fleet.example.toml",
                  "usr/share/pantau/holidays-id.toml",
                  "usr/share/pantau/mosquitto/pantau.conf", "usr/share/pantau/mosquitto/acl",
                  "usr/share/pantau/nats/nats-server.conf", "usr/share/pantau/nats/pantau.conf",
                  "usr/share/pantau/nats/users.conf",
                  "usr/share/pantau/prometheus/prometheus.yml",
                  "usr/share/pantau/prometheus/alerts.yml",
                  "usr/share/pantau/alertmanager/alertmanager.yml",
                  "usr/share/pantau/grafana/dashboards/pantau-fleet.json",
                  "usr/bin/pantau-collector", "usr/share/doc/pantau-collector/copyright"},
}
DEPENDS = {
    "agent": {"python3 (>= 3.11)", "python3 (<< 3.12)", "libusb-1.0-0", "systemd"},
    "collector": {"python3 (>= 3.11)", "python3 (<< 3.12)", "systemd"},
}


def deb(role: str) -> Path:
    found = sorted(DIST.glob(f"pantau-{role}_*_amd64.deb"))
    if not found:
        pytest.fail(f"no pantau-{role} .deb in {DIST}: run `make dist`")
    return found[-1]


def contents(role: str) -> list[str]:
    listing = subprocess.run(["dpkg-deb", "-c", str(deb(role))], capture_output=True,
                             text=True, check=True).stdout
    return [line.split(maxsplit=5)[5].split(" -> ")[0].removeprefix("./")
            for line in listing.splitlines()]


@pytest.mark.parametrize("role", CONTENTS)
def test_environment_carries_only_the_roles_packages(role: str) -> None:
    site = SITE.format(role=role) + "/"
    top = {p[len(site):].split("/")[0] for p in contents(role) if p.startswith(site)}
    top = {t for t in top if t and not t.endswith(".dist-info") and not t.endswith(".py")}
    need, forbidden = CONTENTS[role]
    assert need <= top, f"missing {need - top}"
    assert not forbidden & top, f"must not ship {forbidden & top}"


@pytest.mark.parametrize("role", FILES)
def test_installs_its_files_where_debian_expects_them(role: str) -> None:
    assert FILES[role] <= set(contents(role)), FILES[role] - set(contents(role))
    assert not [p for p in contents(role) if "__pycache__" in p or p.endswith(".pyc")]
    conffiles = subprocess.run(["dpkg-deb", "-I", str(deb(role)), "conffiles"],
                               capture_output=True, text=True, check=True).stdout.split()
    assert sorted(conffiles) == sorted("/" + p for p in contents(role)
                                       if p.startswith("etc/") and not p.endswith("/"))


@pytest.mark.parametrize("role", DEPENDS)
def test_depends_on_debian_python_311_and_little_else(role: str) -> None:
    field = subprocess.run(["dpkg-deb", "-f", str(deb(role)), "Depends"], capture_output=True,
                           text=True, check=True).stdout.strip()
    depends = {d.strip() for d in field.split(",")}
    libc = {d for d in depends if d.startswith("libc6 (>= 2.")}
    assert depends - libc == DEPENDS[role]
    assert len(libc) == 1


@pytest.mark.parametrize("role", DEPENDS)
def test_no_build_path_left_in_the_package(role: str, tmp_path: Path) -> None:
    subprocess.run(["dpkg-deb", "-R", str(deb(role)), str(tmp_path)], check=True)
    hits = subprocess.run(["grep", "-rlF", str(REPO), str(tmp_path)], capture_output=True,
                          text=True, check=False).stdout.split()
    assert hits == []


def documented(kind: str) -> set[str]:
    """`W: package: tag` (or `O: …` for overrides) listed in docs/packaging.md, "lintian"."""
    text = PACKAGING_DOC.read_text()
    start = text.index("\n## lintian\n")
    section = text[start:text.index("\n## ", start + 1)]
    return set(re.findall(rf"`({kind}: [\w-]+: [\w-]+)`", section))


def test_lintian_finds_no_error_and_only_the_documented_warnings() -> None:
    lintian = shutil.which("lintian")
    if lintian is None:
        pytest.fail("lintian is not installed: make test-install installs it")
    done = subprocess.run([lintian, "--show-overrides", "--tag-display-limit", "0",
                           str(deb("agent")), str(deb("collector"))],
                          capture_output=True, text=True, check=False)
    tags = {" ".join(line.split()[:3]) for line in done.stdout.splitlines()
            if re.match(r"^[EWIPXO]: ", line)}
    assert {t for t in tags if t.startswith("E: ")} == set(), done.stdout
    assert {t for t in tags if t.startswith("W: ")} == documented("W"), \
        "lintian's warnings and the list in docs/packaging.md differ"
    assert {t for t in tags if t.startswith("O: ")} == documented("O"), \
        "lintian's overrides and the list in docs/packaging.md differ"
