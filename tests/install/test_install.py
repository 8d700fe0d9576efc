"""`make test-install`: the install docs, run as written, in a fresh Debian 12 root.

The root (tests/install/setup.sh: mmdebstrap from Debian's archive, cached)
has no network but loopback and its own PID namespace (tests/install/root.py);
apt installs from a local copy of the Debian packages the docs name. The two
.debs of `make dist` and the offline bundle sit in /root, where the docs say
"in the directory holding the .deb". The blocks of docs/install-central.md and
docs/install-station.md run in order (the central server up to "Verify", the
station, then taking the station out and removing both), each under strace so
that no secret may appear in any command line. Between the blocks the tests
check what the docs promise. The station's USB bus and monitor are simulated:
a drop-in for the installed pantau-agent.service runs the installed agent's
`run` through tests/support/kit_agent.py (a simulated kit behind pyusb, a fake
sysfs with the monitor), with the installed environment's Python, as the
unit's user. Everything else is real: dpkg, apt, Debian's Mosquitto,
Prometheus and Alertmanager, TLS, HTTP, the units run by the systemctl shim.

The tests of this module run in file order and depend on the earlier ones.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agent.sim.kit import station_sysfs
from tests.install.docs import Block, blocks, listed_paths
from tests.install.root import DebianRoot, Result

# Each step waits on real services with its own deadlines; the suite's 120 s cap is for
# unit tests.
pytestmark = [pytest.mark.install, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "dist"
HERE = Path(__file__).resolve().parent
CENTRAL, STATION_DOC = "install-central.md", "install-station.md"
SITE, STATION = "medan-baru", "medan-baru-01"
# The installed agent over a simulated kit (the launcher the test suite uses).
KIT_AGENT = "/srv/kit_agent.py --sysfs /srv/simulated-sysfs"
CURL = "curl -sS --fail --cacert /etc/pantau/ca.crt --netrc-file /root/pantau.netrc"
# The secrets the docs create; no command line may ever hold one.
SECRET_FILES = ("/etc/pantau/collector.password", "/etc/mosquitto/pantau/admin.password",
                "/etc/prometheus/pantau-collector.password",
                f"/root/enroll/{STATION}/broker.password")
# What the test itself puts in the root or the shim writes (not the docs' doing).
TEST_PATHS = ("/srv/pantau-apt", "/srv/simulated-sysfs", "/srv/kit_agent.py", "/var/log/shim",
              "/root/pantau-*.deb",
              "/root/pantau-agent-offline-*", "/root/retained_check.py",
              "/etc/systemd/system/pantau-agent.service.d", "/var/lib/apt/lists/_srv_pantau-apt_*")


@dataclass
class Installation:
    root: DebianRoot
    ran: list[Block] = field(default_factory=list)
    skipped: list[Block] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)

    def run_sections(self, doc: str, sections: list[str],
                     env: dict[str, str] | None = None) -> None:
        chosen = [b for b in blocks(doc) if b.section in sections]
        assert {b.section for b in chosen} == set(sections) - self._empty(doc, sections), \
            f"{doc}: sections without shell blocks or renamed: {sections}"
        for block in chosen:
            if block.skip is not None:
                print(f"\nskipped {block.where}: {block.skip}")
                self.skipped.append(block)
                continue
            started = time.monotonic()
            result = self.root.run(block.code, env=env, trace=True)
            print(f"\nran {block.where} in {time.monotonic() - started:.1f} s")
            self.results.append(result)
            self.ran.append(block)
            assert result.code == 0, (f"{block.where} exited {result.code}:\n{block.code}\n"
                                      f"--- stdout\n{result.out[-4000:]}\n"
                                      f"--- stderr\n{result.err[-4000:]}")

    @staticmethod
    def _empty(doc: str, sections: list[str]) -> set[str]:
        with_blocks = {b.section for b in blocks(doc)}
        return {s for s in sections if s not in with_blocks}

    def sh(self, script: str, env: dict[str, str] | None = None) -> str:
        result = self.root.run(script, env=env)
        assert result.code == 0, f"{script}\nexit {result.code}\n{result.out}\n{result.err}"
        return result.out

    def wait_for(self, what: str, check: str, timeout: float) -> str:
        """Run `check` in the root until it exits 0; its output."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.root.run(check)
            if result.code == 0:
                return result.out
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}: "
                                     f"{result.out[-2000:]}{result.err[-2000:]}")
            time.sleep(0.5)

    def prometheus(self, query: str) -> list[dict[str, object]]:
        out = self.sh("curl -sS --fail 'http://127.0.0.1:9090/api/v1/query?query="
                      + urllib.parse.quote(query) + "'")
        result: list[dict[str, object]] = json.loads(out)["data"]["result"]
        return result


def dist_files() -> list[Path]:
    found = sorted(DIST.glob("pantau-*_amd64.deb")) + sorted(DIST.glob("pantau-agent-offline-*"))
    if len(found) != 3:
        pytest.fail(f"expected the two .debs and the offline bundle in {DIST}, found "
                    f"{[p.name for p in found]}: run `make dist` (make test-install does)")
    return found


@pytest.fixture(scope="module")
def install() -> Iterator[Installation]:
    started = time.monotonic()
    setup = subprocess.run(["bash", str(HERE / "setup.sh")], capture_output=True, text=True,
                           check=False)
    if setup.returncode == 3:
        pytest.skip(f"no Debian root can be made here: {setup.stderr.strip()}")
    assert setup.returncode == 0, setup.stderr
    # Not under pytest's basetemp: another pytest session on this machine prunes
    # old numbered directories there, and this root lives for minutes.
    root = DebianRoot(Path(tempfile.mkdtemp(prefix="pantau-install-", dir="/var/tmp")) / "root")
    try:
        root.start(Path(setup.stdout.strip().splitlines()[-1]))
        for path in dist_files():
            (root.path / "root" / path.name).write_bytes(path.read_bytes())
        (root.path / "root" / "retained_check.py").write_bytes(
            (HERE / "retained_check.py").read_bytes())
        # The test network's name service (mmdebstrap leaves /etc/hosts to the
        # installer): both names of the central server are this machine.
        root.write("/etc/hosts", "127.0.0.1 localhost mqtt.pantau.example central.pantau.example\n"
                                 "::1 localhost ip6-localhost ip6-loopback\n")
        # The station's hardware: a simulated kit on the USB bus and a monitor on
        # HDMI in a fake sysfs, for the installed service too (same unit, same user,
        # same sandbox settings; only the command goes through the launcher).
        station_sysfs(root.path / "srv" / "simulated-sysfs")
        root.write("/srv/kit_agent.py", (REPO / "tests" / "support" / "kit_agent.py").read_text())
        root.write("/etc/systemd/system/pantau-agent.service.d/simulated-kit.conf",
                   "[Service]\nExecStart=\nExecStart=/opt/pantau/agent/bin/python3 "
                   f"{KIT_AGENT} run --config /etc/pantau/agent.toml\n")
        print(f"\nDebian root ready in {time.monotonic() - started:.1f} s")
        yield Installation(root)
    finally:
        root.close()


def test_central_doc_runs_as_written(install: Installation) -> None:
    install.run_sections(CENTRAL, ["1. Packages", "2. Broker (Mosquitto)", "3. Collector",
                                   "4. Prometheus and Alertmanager", "5. Grafana",
                                   "6. Enrolling a station", "7. Verify"])


def test_station_doc_runs_as_written(install: Installation) -> None:
    install.run_sections(STATION_DOC, ["1. Install the program", "2. USB access",
                                       "3. Configuration",
                                       "4. Check the kit before starting the service",
                                       "5. Start the service"])
    # The probe of step 4, over the simulated kit: every required part ok.
    probe = install.root.run(f"/opt/pantau/agent/bin/python3 {KIT_AGENT} probe "
                             "--config /etc/pantau/agent.toml")
    assert probe.code == 0, probe.out + probe.err


def test_broker_runs_our_drop_in_on_debian_stock_config(install: Installation) -> None:
    install.sh("systemctl is-active mosquitto")
    # Debian's file as the package left it (dpkg --verify lists changed conffiles),
    # and the copy tests/deploy uses is that very file.
    assert "mosquitto.conf" not in install.sh("dpkg --verify mosquitto || true")
    stock = install.root.read("/etc/mosquitto/mosquitto.conf")
    assert stock == (REPO / "tests" / "deploy" / "debian-mosquitto.conf").read_text()
    assert "include_dir /etc/mosquitto/conf.d" in stock
    assert install.root.read("/etc/mosquitto/conf.d/pantau.conf") == \
        (REPO / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    mode = install.sh("stat -c '%a %U:%G' /etc/mosquitto/pantau/passwd").strip()
    assert mode == "640 root:mosquitto"
    tls = install.sh("openssl s_client -connect 127.0.0.1:8883 -CAfile /etc/pantau/ca.crt "
                     "-verify_return_error -verify_ip 127.0.0.1 </dev/null 2>&1")
    assert "Verify return code: 0 (ok)" in tls


def test_agent_connects_over_tls_with_its_enrolled_account(install: Installation) -> None:
    install.sh("systemctl is-active pantau-agent")
    log = install.wait_for(
        "the agent's login in the broker log",
        f"grep -F \"u'{STATION}'\" /var/log/mosquitto/mosquitto.log", 30)
    assert f"as {STATION} " in log  # use_username_as_clientid
    conf = install.root.read("/etc/pantau/agent.toml")
    assert 'url = "mqtts://mqtt.pantau.example:8883"' in conf


def test_collector_shows_the_station_online(install: Installation) -> None:
    # Online from its birth message, then its first heartbeat with the kit's figures.
    url = f"https://127.0.0.1:9620/api/v1/stations/{STATION}"
    out = install.wait_for(
        f"{STATION} online at the collector, with a heartbeat",
        f"{CURL} {url} | grep '\"state\":\"online\"' | grep -q '\"last_heartbeat_ts\":1'"
        f" && {CURL} {url}", 60)
    station = json.loads(out)
    assert (station["site"], station["registered"], station["lifecycle"]) == \
        (SITE, True, "active")
    assert station["problems"] == [], station
    assert station["last_heartbeat_ts"], station  # a heartbeat came through, not only a birth
    version = re.search(r"_([^_]+)_amd64\.deb$", next(DIST.glob("pantau-agent_*.deb")).name)[1]
    assert station["agent_version"] == version  # the packaged agent sent it


def test_prometheus_scrapes_the_collector_over_https_with_process_metrics(
        install: Installation) -> None:
    install.wait_for("Prometheus up{job=pantau-collector} == 1",
                     "curl -sS --fail 'http://127.0.0.1:9090/api/v1/query?query="
                     + urllib.parse.quote('up{job="pantau-collector"} == 1')
                     + "' | grep -q '\"value\"'", 90)
    targets = json.loads(install.sh("curl -sS --fail http://127.0.0.1:9090/api/v1/targets"))
    (target,) = [t for t in targets["data"]["activeTargets"]
                 if t["labels"]["job"] == "pantau-collector"]
    assert target["scrapeUrl"].startswith("https://"), target["scrapeUrl"]
    config = install.root.read("/etc/prometheus/prometheus.yml")
    assert "basic_auth:" in config and "password_file:" in config
    for family in ("process_resident_memory_bytes", "process_start_time_seconds",
                   "process_cpu_seconds_total", "process_open_fds"):
        assert install.prometheus(f'{family}{{job="pantau-collector"}}'), \
            f"{family} missing: the collector unit's sandbox hides what it reads"
    assert install.prometheus(f'pantau_station_up{{station="{STATION}"}} == 1')
    # make dist wrote the commit it built into the package: it shows in build_info.
    built = install.root.read(
        "/opt/pantau/collector/lib/python3.11/site-packages/pantau/REVISION").strip()
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert built.removesuffix("-dirty") == head, "dist/ is older than HEAD: make dist"
    assert install.prometheus(f'pantau_build_info{{job="pantau-collector",revision="{built}"}}')


@pytest.mark.parametrize("unit", ["pantau-agent.service", "pantau-collector.service"])
def test_installed_unit_passes_systemd_analyze(install: Installation, unit: str) -> None:
    path = f"/lib/systemd/system/{unit}"
    verify = install.root.run(f"systemd-analyze verify {path}")
    assert verify.code == 0 and unit not in verify.err, verify.err
    security = install.sh(f"systemd-analyze security --offline=yes {path}")
    exposure = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", security)[1])
    assert exposure <= 2.0, security


def test_station_removal_and_retirement(install: Installation) -> None:
    install.run_sections(STATION_DOC, ["Removing"])
    install.run_sections(CENTRAL, ["Retiring a station"])
    assert f"{STATION}:" not in install.root.read("/etc/mosquitto/pantau/passwd")
    assert install.sh("stat -c '%a %U:%G' /etc/mosquitto/pantau/passwd").strip() == \
        "640 root:mosquitto"
    # Looked at with the collector's account, which alone may read every station's
    # topics; the broker forces its client id to that username, so the collector
    # itself steps aside first (the next doc step removes it anyway).
    install.sh("systemctl stop pantau-collector")
    retained = install.sh(
        "/opt/pantau/collector/bin/python3 /root/retained_check.py 127.0.0.1 8883 "
        "/etc/pantau/ca.crt pantau-collector /etc/pantau/collector.password "
        f"'pantau/v1/+/{STATION}/#' pantau/collector/install-test")
    assert retained.strip() == "", f"retained messages left for {STATION}: {retained}"


def leftovers(install: Installation) -> list[str]:
    found = install.sh("find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /run "
                       "-o -path /tmp \\) -prune -o -name '*pantau*' -print")
    return sorted(found.split())


def allowed(path: str, patterns: list[str]) -> bool:
    """A listed path, something inside a listed directory, or a directory holding one."""
    return any(fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/")
               or p.startswith(path + "/") for p in patterns)


def test_purge_leaves_only_what_the_docs_list(install: Installation) -> None:
    install.run_sections(CENTRAL, ["Removing"])
    install.sh("! dpkg -s pantau-agent 2>/dev/null && ! dpkg -s pantau-collector 2>/dev/null")
    documented = listed_paths(CENTRAL, "Removing") + listed_paths(STATION_DOC, "Removing")
    assert "/etc/pantau/collector.toml" in documented and "/etc/pantau/agent.toml" in documented
    extra = [p for p in leftovers(install) if not allowed(p, documented + list(TEST_PATHS))]
    assert extra == [], "left after apt purge but not listed in the docs' Removing sections"
    for gone in ("/opt/pantau", "/var/lib/pantau-agent", "/var/lib/pantau-collector",
                 "/usr/share/pantau", "/lib/systemd/system/pantau-agent.service"):
        assert not (install.root.path / gone.lstrip("/")).exists(), gone
    users = install.sh("getent passwd pantau pantau-collector | cut -d: -f1").split()
    assert users == ["pantau", "pantau-collector"]  # documented: system users stay


def next_version(deb: Path, workdir: Path) -> Path:
    """The same package with a higher version: an upgrade that changes nothing else."""
    tree = workdir / deb.stem
    subprocess.run(["dpkg-deb", "-R", str(deb), str(tree)], check=True)
    control = tree / "DEBIAN" / "control"
    text = control.read_text()
    version = re.search(r"^Version: (.+)$", text, re.M)[1]
    control.write_text(text.replace(f"Version: {version}", f"Version: {version}+1"))
    out = workdir / deb.name.replace(f"_{version}_", f"_{version}+1_")
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "-b", str(tree), str(out)],
                   check=True, capture_output=True)
    return out


# (step, command with {deb} {next} {pkg}, dpkg status after it)
LIFECYCLE = [
    ("install", "apt-get install -y ./{deb}", "install ok installed"),
    ("install twice", "apt-get install -y --reinstall ./{deb}", "install ok installed"),
    ("upgrade to the same version", "dpkg -i {deb}", "install ok installed"),
    ("upgrade", "dpkg -i {next}", "install ok installed"),
    ("remove", "dpkg -r {pkg}", "deinstall ok config-files"),
    ("install over removed", "dpkg -i {deb}", "install ok installed"),
    ("purge", "dpkg -P {pkg}", "not installed"),
    ("purge twice", "dpkg -P {pkg}", "not installed"),
]


@pytest.mark.parametrize("role", ["agent", "collector"])
def test_maintainer_scripts_are_idempotent(install: Installation, role: str,
                                           tmp_path: Path) -> None:
    pkg = f"pantau-{role}"
    (deb,) = DIST.glob(f"{pkg}_*_amd64.deb")
    upgrade = next_version(deb, tmp_path)
    (install.root.path / "root" / upgrade.name).write_bytes(upgrade.read_bytes())
    for step, command, status in LIFECYCLE:
        install.sh(command.format(deb=deb.name, next=upgrade.name, pkg=pkg))
        state = install.root.run(f"dpkg-query -W -f '${{Status}}' {pkg}")
        assert (state.out if state.code == 0 else "not installed") == status, step
        if status == "install ok installed":
            install.sh(f"{pkg} --help >/dev/null")  # the bundled environment runs
            assert install.sh(f"getent passwd {'pantau' if role == 'agent' else pkg}")
            assert install.sh(f"find /opt/pantau/{role} -name __pycache__ | head -1")
    assert not (install.root.path / "opt" / "pantau" / role).exists()
    assert not (install.root.path / "var" / "lib" / pkg).exists()
    install.sh(f"rm /root/{upgrade.name}")


def test_upgrade_restarts_the_running_service_and_remove_stops_it(
        install: Installation, tmp_path: Path) -> None:
    """The maintainer scripts' systemd path, which the other steps skip because no
    systemd runs here: with /run/systemd/system present and policy-rc.d out of the
    way they call systemctl (the shim) as they would on a booted machine."""
    (deb,) = DIST.glob("pantau-collector_*_amd64.deb")
    upgrade = next_version(deb, tmp_path)
    (install.root.path / "root" / upgrade.name).write_bytes(upgrade.read_bytes())
    unit = "pantau-collector.service"
    pid = f"cat /run/shim/{unit}.pid"
    install.sh("mkdir /run/systemd/system && mv /usr/sbin/policy-rc.d /root/policy-rc.d.off")
    try:
        install.sh(f"apt-get install -y ./{deb.name} && systemctl start {unit}")
        before = install.sh(pid).strip()
        install.sh(f"dpkg -i {upgrade.name}")  # postinst: deb-systemd-invoke try-restart
        install.sh(f"systemctl is-active {unit}")
        assert install.sh(pid).strip() != before, "the upgrade did not restart the collector"
        install.sh("dpkg -r pantau-collector")  # prerm: deb-systemd-invoke stop
        assert install.root.run(f"systemctl is-active {unit}").code != 0
        install.sh("dpkg -P pantau-collector")
    finally:
        install.sh("mv /root/policy-rc.d.off /usr/sbin/policy-rc.d && rmdir /run/systemd/system")
        install.sh(f"rm -f /root/{upgrade.name}")


def test_offline_bundle_installs_in_the_root(install: Installation) -> None:
    install.run_sections(STATION_DOC, ["Without the Debian package (offline bundle)"])
    probe = install.root.run(f"/opt/pantau/agent/bin/python3 {KIT_AGENT} probe "
                             "--config /etc/pantau/agent.toml")
    assert probe.code == 0, probe.out + probe.err  # the bundle's agent, on Debian's python3
    assert install.sh("readlink -f /opt/pantau/agent/bin/python3").strip() == "/usr/bin/python3.11"
    assert install.sh("getent passwd pantau")


def test_the_systemctl_shim_refuses_what_it_does_not_implement(install: Installation) -> None:
    for command in ("systemctl mask mosquitto", "systemctl list-units",
                    "systemctl --user start mosquitto"):
        refused = install.root.run(command)
        assert refused.code != 0 and "not implemented" in refused.err, command


def test_every_block_ran_or_says_why(install: Installation) -> None:
    every = blocks(CENTRAL) + blocks(STATION_DOC)
    handled = install.ran + install.skipped
    assert [b for b in every if b not in handled] == []
    assert all(b.skip for b in install.skipped)
    print("\nskipped blocks:\n" + "\n".join(f"  {b.where}: {b.skip}" for b in install.skipped))


def test_no_secret_on_any_command_line(install: Installation) -> None:
    secrets = {path: install.root.read(path).strip() for path in SECRET_FILES}
    assert all(len(s) >= 32 for s in secrets.values()), secrets.keys()
    execs = [line for r in install.results for line in r.execs]
    assert len(execs) > 1000  # every block was traced, apt and dpkg included
    for path, secret in secrets.items():
        leaks = [line[:300] for line in execs if secret in line]
        assert leaks == [], f"the secret in {path} appeared in a command line or environment"
