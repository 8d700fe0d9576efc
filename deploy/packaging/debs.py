"""pantau-agent and pantau-collector .debs: dpkg-deb over a staged tree.

Why dpkg-deb over a staged tree: it needs nothing outside Debian's own dpkg,
and the one non-standard step — a bundled virtual environment — is plain file
copying here. dh-virtualenv would need a debian/ source package, debhelper and
a build inside the target release; nfpm is not in Debian.

Each package carries a virtual environment in /opt/pantau/<role> made by
Debian's /usr/bin/python3.11 (the target's interpreter, not the Python that
runs this build) with the role's pinned wheels installed into it by pip
--no-index. The environment's paths are the installed ones: the staging
prefix is rewritten out of every file that names it, and `leaked_paths`
proves none is left.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from wheels import REPO, BuildError, run

DEBIAN = REPO / "deploy" / "debian"
TARGET_PYTHON = Path("/usr/bin/python3.11")
PYTHON_MINOR = "3.11"
MAINTAINER = "Pantau team <pantau@example.go.id>"


@dataclass(frozen=True)
class Role:
    name: str  # "agent": the extra, /opt/pantau/<name>, the service
    commands: tuple[str, ...]  # console scripts linked into /usr/bin
    # Top-level Python packages of our wheel this role must not carry: the other role's.
    not_shipped: tuple[str, ...]
    # (source under the repository, path in the package, mode); a source ending
    # in "/" copies that directory's files (not recursively) into the target directory.
    files: tuple[tuple[str, str, int], ...]
    # (command, manual section, one-line summary): a manual page from its --help.
    manuals: tuple[tuple[str, int, str], ...]

    @property
    def package(self) -> str:
        return f"pantau-{self.name}"

    @property
    def venv(self) -> str:
        return f"opt/pantau/{self.name}"


AGENT = Role(
    name="agent",
    commands=("pantau-agent",),
    not_shipped=("collector",),
    files=(
        ("deploy/systemd/pantau-agent.service", "lib/systemd/system/pantau-agent.service", 0o644),
        ("deploy/udev/70-pantau.rules", "lib/udev/rules.d/70-pantau.rules", 0o644),
        ("deploy/profiles/", "usr/share/pantau/profiles/", 0o644),
        ("deploy/agent.example.toml", "etc/pantau/agent.example.toml", 0o644),
        ("deploy/debian/pantau-agent/sysusers.conf", "usr/lib/sysusers.d/pantau-agent.conf", 0o644),
        ("deploy/debian/pantau-agent/tmpfiles.conf", "usr/lib/tmpfiles.d/pantau-agent.conf", 0o644),
        ("deploy/debian/pantau-agent/lintian-overrides",
         "usr/share/lintian/overrides/pantau-agent", 0o644),
    ),
    manuals=(("pantau-agent", 1, "Pantau station agent"),),
)

COLLECTOR = Role(
    name="collector",
    commands=("pantau-collector",),
    not_shipped=("agent",),
    files=(
        ("deploy/systemd/pantau-collector.service",
         "lib/systemd/system/pantau-collector.service", 0o644),
        ("deploy/scripts/pantau-ca", "usr/sbin/pantau-ca", 0o755),
        ("deploy/scripts/pantau-enroll-station", "usr/sbin/pantau-enroll-station", 0o755),
        ("deploy/scripts/pantau-retire-station", "usr/sbin/pantau-retire-station", 0o755),
        ("deploy/collector.example.toml", "etc/pantau/collector.example.toml", 0o644),
        ("deploy/fleet.example.toml", "etc/pantau/fleet.example.toml", 0o644),
        ("deploy/holidays-id.toml", "usr/share/pantau/holidays-id.toml", 0o644),
        ("deploy/mosquitto/mosquitto.conf", "usr/share/pantau/mosquitto/pantau.conf", 0o644),
        ("deploy/mosquitto/acl", "usr/share/pantau/mosquitto/acl", 0o644),
        ("deploy/nats/", "usr/share/pantau/nats/", 0o644),
        ("deploy/prometheus/", "usr/share/pantau/prometheus/", 0o644),
        ("deploy/alertmanager/alertmanager.yml",
         "usr/share/pantau/alertmanager/alertmanager.yml", 0o644),
        ("deploy/alertmanager/templates/", "usr/share/pantau/alertmanager/templates/", 0o644),
        ("deploy/grafana/provisioning/datasources/pantau.yml",
         "usr/share/pantau/grafana/provisioning/datasources/pantau.yml", 0o644),
        ("deploy/grafana/provisioning/dashboards/pantau.yml",
         "usr/share/pantau/grafana/provisioning/dashboards/pantau.yml", 0o644),
        ("deploy/grafana/dashboards/", "usr/share/pantau/grafana/dashboards/", 0o644),
        ("deploy/debian/pantau-collector/sysusers.conf",
         "usr/lib/sysusers.d/pantau-collector.conf", 0o644),
        ("deploy/debian/pantau-collector/tmpfiles.conf",
         "usr/lib/tmpfiles.d/pantau-collector.conf", 0o644),
        ("deploy/debian/pantau-collector/lintian-overrides",
         "usr/share/lintian/overrides/pantau-collector", 0o644),
    ),
    manuals=(("pantau-collector", 1, "Pantau collector"),
             ("pantau-ca", 8, "certificate authority for the Pantau broker and stations"),
             ("pantau-enroll-station", 8, "give a station its broker account and agent.toml"),
             ("pantau-retire-station", 8, "take a station out of service on the broker")),
)

ROLES = (AGENT, COLLECTOR)
MAINTAINER_SCRIPTS = ("postinst", "prerm", "postrm")


def architecture() -> str:
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    if arch != "amd64":
        raise BuildError(f"the bundled wheels are for x86_64 only; this machine is {arch}")
    return arch


def source_date_epoch() -> int:
    """The last commit's time, so two builds of one commit give the same files."""
    if "SOURCE_DATE_EPOCH" in os.environ:
        return int(os.environ["SOURCE_DATE_EPOCH"])
    done = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%ct"],
                          capture_output=True, text=True, check=False)
    return int(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() \
        else int(time.time())


def make_venv(role: Role, stage: Path, wheelhouse: Path, version: str) -> Path:
    """The role's environment at stage/opt/pantau/<role>, paths rewritten to /opt/pantau/<role>."""
    if not TARGET_PYTHON.exists():
        raise BuildError(f"{TARGET_PYTHON} is missing: the packages bundle an environment for "
                         "Debian's Python 3.11. Install it: apt-get install python3.11-venv")
    venv = stage / role.venv
    run([str(TARGET_PYTHON), "-m", "venv", "--without-pip", str(venv)],
        f"creating the {role.name} environment with {TARGET_PYTHON}")
    run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python3"), "install",
         "--quiet", "--disable-pip-version-check", "--no-index", "--find-links", str(wheelhouse),
         "--no-compile", "--no-warn-script-location", f"pantau[{role.name}]=={version}"],
        f"installing pantau[{role.name}] into its environment")
    site = venv / "lib" / f"python{PYTHON_MINOR}" / "site-packages"
    for name in role.not_shipped:
        shutil.rmtree(site / name, ignore_errors=True)
    # bin/ keeps the interpreter links and this role's commands only: not the
    # other role's command, not the activation scripts (the service needs none),
    # not the command-line tools of dependencies (idna's).
    for path in (venv / "bin").iterdir():
        if not path.is_symlink() and path.name not in role.commands:
            path.unlink()
    strip_extensions(venv)
    for cache in list(venv.rglob("__pycache__")):
        shutil.rmtree(cache)
    rewrite_prefix(venv, str(stage))
    return venv


def strip_extensions(venv: Path) -> None:
    """Drop debug symbols from the wheels' C extensions, as Debian does for its own."""
    for so in sorted(venv.rglob("*.so")):
        run(["strip", "--strip-unneeded", "--remove-section=.comment",
             "--remove-section=.note", str(so)], f"strip {so.name} (apt-get install binutils)")


def rewrite_prefix(venv: Path, prefix: str) -> None:
    """Turn stage/opt/pantau/x into /opt/pantau/x in scripts' shebangs and pyvenv.cfg."""
    for path in [venv / "pyvenv.cfg", *sorted((venv / "bin").iterdir())]:
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if prefix.encode() in data:
            path.write_bytes(data.replace(prefix.encode(), b""))


def leaked_paths(stage: Path, needle: str) -> list[str]:
    """Files under stage that still contain `needle` (the build directory)."""
    hits = []
    for path in stage.rglob("*"):
        if path.is_file() and not path.is_symlink() and needle.encode() in path.read_bytes():
            hits.append(str(path.relative_to(stage)))
    return hits


def manylinux_glibc(venv: Path) -> str:
    """The glibc the bundled wheels need: for each wheel the oldest of its manylinux
    tags (any one of them is a promise), then the newest of those."""
    needed = (2, 5)
    for wheel_file in venv.glob("lib/python*/site-packages/*.dist-info/WHEEL"):
        versions = [_glibc(line.rsplit("-", 1)[1]) for line in wheel_file.read_text().splitlines()
                    if line.startswith("Tag:") and "manylinux" in line]
        if versions:
            needed = max(needed, min(versions))
    return f"{needed[0]}.{needed[1]}"


def _glibc(platform: str) -> tuple[int, int]:
    legacy = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
    prefix = platform.split("_x86_64")[0]
    if prefix in legacy:
        return legacy[prefix]
    major, minor = prefix.removeprefix("manylinux_").split("_")
    return int(major), int(minor)


def copy_files(role: Role, stage: Path) -> None:
    for source, target, mode in role.files:
        src = REPO / source
        if source.endswith("/"):
            pairs = [(p, stage / target / p.name) for p in sorted(src.iterdir()) if p.is_file()]
        else:
            pairs = [(src, stage / target)]
        for src_file, dest in pairs:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src_file, dest)
            dest.chmod(mode)
    for command in role.commands:
        link = stage / "usr" / "bin" / command
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(f"/{role.venv}/bin/{command}")


def write_manuals(role: Role, stage: Path, version: str, epoch: int) -> None:
    """help2man over each command's --help: the dev environment's console script for
    the Python commands (the staged one names /opt paths), the repository's scripts."""
    for command, section, summary in role.manuals:
        program = Path(sys.executable).parent / command
        if not program.exists():
            program = REPO / "deploy" / "scripts" / command
        page = subprocess.run(["help2man", "--no-info", f"--section={section}",
                               f"--name={summary}", f"--version-string={version}",
                               str(program)], capture_output=True, text=True, check=False,
                              env={**os.environ, "SOURCE_DATE_EPOCH": str(epoch)})
        if page.returncode != 0:
            raise BuildError(f"help2man {command} failed (apt-get install help2man?): "
                             f"{page.stderr.strip()}")
        target = stage / "usr" / "share" / "man" / f"man{section}" / f"{command}.{section}.gz"
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as raw, \
                gzip.GzipFile(fileobj=raw, mode="wb", mtime=epoch, filename="") as gz:
            gz.write(page.stdout.encode())


def write_docs(role: Role, stage: Path, version: str, epoch: int) -> None:
    doc = stage / "usr" / "share" / "doc" / role.package
    doc.mkdir(parents=True, exist_ok=True)
    when = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(epoch))
    changelog = (f"{role.package} ({version}) stable; urgency=medium\n\n"
                 f"  * Release {version}: see README.md of the Pantau repository.\n\n"
                 f" -- {MAINTAINER}  {when}\n")
    with open(doc / "changelog.gz", "wb") as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=epoch, filename="") as gz:
        gz.write(changelog.encode())
    (doc / "copyright").write_text(copyright_text(stage / role.venv, time.gmtime(epoch).tm_year))


def copyright_text(venv: Path, year: int) -> str:
    """DEP-5 copyright: Pantau's licence, then each bundled distribution and where its
    licence text is installed."""
    parts = [
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        "Upstream-Name: pantau\n\n"
        f"Files: *\nCopyright: {year} the Pantau authors\nLicense: Apache-2.0\n"
        " On Debian systems the full text of the Apache License 2.0 is in\n"
        " /usr/share/common-licenses/Apache-2.0.\n"
    ]
    for info in sorted(venv.glob("lib/python*/site-packages/*.dist-info")):
        meta = (info / "METADATA").read_text(errors="replace")
        fields = dict(line.split(": ", 1) for line in meta.split("\n\n")[0].splitlines()
                      if ": " in line and not line.startswith(" "))
        if fields.get("Name") == "pantau":
            continue
        licence = fields.get("License-Expression") or fields.get("License") or "see below"
        texts = sorted(str(p.relative_to(venv.parents[2])) for p in info.rglob("*")
                       if p.is_file() and ("LICEN" in p.name.upper() or "COPYING" in p.name))
        site = info.parent.relative_to(venv.parents[2])
        parts.append(
            f"Files: {site}/{fields.get('Name', info.name)}*\n"
            f"Copyright: the {fields.get('Name')} authors (bundled version "
            f"{fields.get('Version')})\n"
            f"License: {licence.splitlines()[0]}\n"
            + "".join(f" Full text: /{t}\n" for t in texts or ["(not shipped in the wheel)"]))
    return "\n".join(parts)


def write_control(role: Role, stage: Path, version: str, arch: str) -> None:
    control = stage / "DEBIAN"
    control.mkdir()
    installed_kib = sum(p.lstat().st_size for p in stage.rglob("*") if p.is_file()) // 1024 + 1
    glibc = manylinux_glibc(stage / role.venv)
    text = (DEBIAN / role.package / "control").read_text()
    for key, value in {"version": version, "arch": arch, "maintainer": MAINTAINER,
                       "installed-size": str(installed_kib),
                       "libc": f"libc6 (>= {glibc})"}.items():
        text = text.replace("${" + key + "}", value)
    if "${" in text:
        raise BuildError(f"unsubstituted field in {role.package}/control: {text}")
    (control / "control").write_text(text)
    conffiles = sorted("/" + str(p.relative_to(stage)) for p in (stage / "etc").rglob("*")
                       if p.is_file())
    (control / "conffiles").write_text("".join(f"{c}\n" for c in conffiles))
    for script in MAINTAINER_SCRIPTS:
        shutil.copyfile(DEBIAN / role.package / script, control / script)
        (control / script).chmod(0o755)


def normalise(stage: Path, epoch: int) -> None:
    """Modes as Debian expects (umask-independent) and one timestamp for every file."""
    for path in [stage, *stage.rglob("*")]:
        if path.is_symlink():
            os.utime(path, (epoch, epoch), follow_symlinks=False)
            continue
        if path.is_dir():
            path.chmod(0o755)
        else:
            path.chmod(0o755 if path.stat().st_mode & 0o111 else 0o644)
        os.utime(path, (epoch, epoch))


def build_deb(role: Role, wheelhouse: Path, version: str, workdir: Path, out: Path) -> Path:
    stage = workdir / role.package
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    epoch = source_date_epoch()
    make_venv(role, stage, wheelhouse, version)
    copy_files(role, stage)
    write_docs(role, stage, version, epoch)
    write_manuals(role, stage, version, epoch)
    leaks = leaked_paths(stage, str(workdir))
    if leaks:
        raise BuildError(f"{role.package}: files still name the build directory {workdir}: "
                         + ", ".join(leaks[:10]))
    arch = architecture()
    normalise(stage, epoch)
    write_control(role, stage, version, arch)
    deb = out / f"{role.package}_{version}_{arch}.deb"
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
    done = subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(stage),
                           str(deb)], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise BuildError(f"dpkg-deb --build {role.package} failed:\n{done.stderr}")
    return deb
