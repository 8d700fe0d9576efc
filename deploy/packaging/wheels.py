"""The project's wheel and the pinned wheels of its dependencies, per role and Python.

Everything `make dist` ships is installed from these directories with
`pip --no-index`, so a package holds exactly the versions in
deploy/constraints.txt and only wheels built for its target (CPython 3.11 or
3.12, manylinux x86_64), whatever Python runs the build.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from email.parser import Parser
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONSTRAINTS = REPO / "deploy" / "constraints.txt"
# The oldest glibc a wheel may need: Debian 10+ and Ubuntu 20.04+ have 2.28 or newer.
# pip also accepts older manylinux tags under this one.
PLATFORM = "manylinux_2_28_x86_64"
# Top-level packages of the source tree that are never shipped: the demo stack.
DEV_ONLY = ("stack",)


class BuildError(Exception):
    """A build step failed; the message says which and what to do."""


def run(argv: list[str], what: str, cwd: Path | None = None) -> None:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BuildError(f"{what} failed (exit {done.returncode}):\n"
                         f"$ {' '.join(argv)}\n{done.stdout[-3000:]}{done.stderr[-3000:]}")


def tracked_files(repo: Path) -> list[Path]:
    """The files git knows (committed or not, ignored ones left out)."""
    done = subprocess.run(["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others",
                           "--exclude-standard"], capture_output=True, check=False)
    if done.returncode != 0:
        raise BuildError(f"make dist builds from a git checkout; git ls-files in {repo} said: "
                         f"{done.stderr.decode(errors='replace').strip()}")
    return [repo / name for name in done.stdout.decode().split("\0") if name]


def revision() -> str:
    """The commit being built (12 hex digits, as pantau.revision reads a checkout),
    with "-dirty" when tracked files differ from it."""
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"],
                          capture_output=True, text=True, check=False)
    if head.returncode != 0:
        raise BuildError(f"git rev-parse HEAD in {REPO} failed: {head.stderr.strip()}")
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain",
                            "--untracked-files=no"], capture_output=True, text=True, check=False)
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def project_wheel(out: Path) -> Path:
    """Build the pantau wheel from a clean copy of the tree.

    A copy, because setuptools reuses `build/` in the source tree and would
    ship modules that were moved or deleted since an earlier build; without
    DEV_ONLY, whatever pyproject.toml's package list says.
    """
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pantau-src-") as tmp:
        src = Path(tmp)
        for path in tracked_files(REPO):
            if path.is_file() and path.relative_to(REPO).parts[0] not in DEV_ONLY:
                target = src / path.relative_to(REPO)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
        # pantau_build_info{revision} of an installed package (pantau/revision.py).
        (src / "pantau" / "REVISION").write_text(revision() + "\n", encoding="ascii")
        run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
             str(out), str(src)], "building the pantau wheel")
    (wheel,) = sorted(out.glob("pantau-*-py3-none-any.whl"))
    return wheel


def wheel_version(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(zf.read(name).decode())
    return str(metadata["Version"])


def download(wheel: Path, extra: str, python: str, out: Path) -> None:
    """Our wheel and every dependency of `pantau[extra]` for CPython `python` ("3.11")."""
    abi = "cp" + python.replace(".", "")
    run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
         "--only-binary=:all:", "--platform", PLATFORM, "--implementation", "cp",
         "--python-version", python, "--abi", abi, "--abi", "abi3", "--abi", "none",
         "--constraint", str(CONSTRAINTS), "--dest", str(out), f"{wheel}[{extra}]"],
        f"downloading the {extra} dependencies for CPython {python} ({PLATFORM})")
