"""The offline station bundle: a wheelhouse for `pip install --no-index --find-links`.

For stations that cannot reach PyPI and cannot take the .deb (another
distribution, or Python 3.12). It holds the pantau wheel and every pinned
dependency of `pantau[agent]` for CPython 3.11 and 3.12 on x86_64 Linux (both
named in the file name), plus the files the .deb would install, so
docs/install-station.md ("Without the Debian package") needs nothing else.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

from wheels import PLATFORM, REPO

PYTHONS = ("3.11", "3.12")
# (source under the repository, name in the bundle)
FILES = (
    ("deploy/systemd/pantau-agent.service", "pantau-agent.service"),
    ("deploy/udev/70-pantau.rules", "70-pantau.rules"),
    ("deploy/debian/pantau-agent/sysusers.conf", "pantau-agent.sysusers.conf"),
    ("deploy/debian/pantau-agent/tmpfiles.conf", "pantau-agent.tmpfiles.conf"),
    ("deploy/agent.example.toml", "agent.example.toml"),
    ("deploy/profiles/ektp-enrollment.toml", "profiles/ektp-enrollment.toml"),
)


def bundle_name(version: str) -> str:
    tags = "-".join("cp" + p.replace(".", "") for p in PYTHONS)
    return f"pantau-agent-offline-{version}-{tags}-{PLATFORM}"


def build_bundle(wheelhouse: Path, version: str, epoch: int, out: Path) -> Path:
    """`wheelhouse` holds the agent's wheels for every Python in PYTHONS."""
    name = bundle_name(version)
    members: list[tuple[str, bytes, int]] = [
        (f"wheels/{w.name}", w.read_bytes(), 0o644) for w in sorted(wheelhouse.glob("*.whl"))]
    members += [(target, (REPO / source).read_bytes(), 0o644) for source, target in FILES]
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.tar.gz"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in sorted({f"{name}/{m[0]}".rsplit("/", 1)[0] for m in members}):
            tar.addfile(_info(directory, 0, 0o755, epoch, tarfile.DIRTYPE))
        for member, data, mode in sorted(members):
            tar.addfile(_info(f"{name}/{member}", len(data), mode, epoch), io.BytesIO(data))
    with open(path, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=epoch,
                                              filename="") as gz:
        gz.write(raw.getvalue())
    return path


def _info(name: str, size: int, mode: int, epoch: int,
          kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime, info.type = size, mode, epoch, kind
    info.uname = info.gname = "root"
    return info
