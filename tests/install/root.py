"""A fresh Debian 12 root in its own network, mount and PID namespaces.

Made from the cached root.tar of tests/install/setup.sh, with
tests/install/systemctl_shim.py as its /usr/bin/systemctl. Commands run in it
with nsenter + chroot, as root, with a clean environment; `run(..., trace=True)`
also records every program they start (strace -f -e execve), so a test can
look for secrets in command lines. `close()` kills the namespace's PID 1: the
kernel then ends every process started inside, and the mounts go with it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
STRACE = shutil.which("strace") or "/usr/bin/strace"
BASE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/root", "LANG": "C.UTF-8", "TERM": "dumb",
            "DEBIAN_FRONTEND": "noninteractive"}


@dataclass(frozen=True)
class Result:
    argv: str
    code: int
    out: str
    err: str
    execs: list[str] = field(default_factory=list)  # strace lines, when traced

    def leaks(self, secret: str) -> list[str]:
        return [line for line in self.execs if secret in line]


@dataclass
class DebianRoot:
    path: Path
    holder: subprocess.Popen[bytes] | None = None
    init_pid: int = 0

    def start(self, tarball: Path) -> DebianRoot:
        self.path.mkdir(parents=True)
        subprocess.run(["tar", "--numeric-owner", "-xpf", str(tarball), "-C", str(self.path)],
                       check=True)
        shim = self.path / "usr" / "bin" / "systemctl"
        shutil.copyfile(HERE / "systemctl_shim.py", shim)
        shim.chmod(0o755)
        # No init here: package scripts must not start daemons behind the shim's
        # back (invoke-rc.d and deb-systemd-invoke ask this first; 101 = do not).
        self.write("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", mode=0o755)
        self.holder = subprocess.Popen(
            ["/usr/bin/unshare", "--net", "--mount", "--pid", "--fork", "--propagation", "private",
             "--kill-child", sys.executable, str(HERE / "nsinit.py"), str(self.path)],
            stdout=subprocess.PIPE)
        assert self.holder.stdout is not None
        ready = self.holder.stdout.readline().decode().strip()
        if ready != "ready":
            raise RuntimeError(f"the root's namespaces did not come up (nsinit said {ready!r})")
        children = Path(f"/proc/{self.holder.pid}/task/{self.holder.pid}/children").read_text()
        self.init_pid = int(children.split()[0])
        return self

    def argv(self, script: str, env: dict[str, str] | None, cwd: str) -> list[str]:
        environment = [f"{k}={v}" for k, v in {**BASE_ENV, **(env or {})}.items()]
        return ["/usr/bin/nsenter", f"--target={self.init_pid}", "--net", "--mount", "--pid",
                "--", "/usr/sbin/chroot", str(self.path), "/usr/bin/env", "-i", *environment,
                "/bin/bash", "-euo", "pipefail", "-c", f"cd {cwd}\n{script}"]

    def run(self, script: str, env: dict[str, str] | None = None, cwd: str = "/root",
            timeout: float = 600, trace: bool = False) -> Result:
        if trace:
            return self._run_traced(script, env, cwd, timeout)
        done = subprocess.run(self.argv(script, env, cwd), capture_output=True, text=True,
                              timeout=timeout, check=False)
        return Result(script, done.returncode, done.stdout, done.stderr)

    def _run_traced(self, script: str, env: dict[str, str] | None, cwd: str,
                    timeout: float) -> Result:
        """Under strace -f. Services the script starts stay traced after it ends, so
        strace would never exit by itself: once the script's own process has exited
        (its line in the trace), strace is told to detach from the rest."""
        work = self.path.parent
        log, out, err = (work / f"trace.{n}" for n in ("log", "out", "err"))
        log.unlink(missing_ok=True)
        with open(out, "w") as stdout, open(err, "w") as stderr:
            strace = subprocess.Popen(
                # -I 1: SIGTERM makes strace detach and exit (with -o and a command it
                # would otherwise block it and wait for the services forever).
                [STRACE, "-I", "1", "-f", "-q", "-v", "-s", "65536", "-e", "trace=execve",
                 "-o", str(log),
                 "--", *self.argv(script, env, cwd)], stdout=stdout, stderr=stderr)
            code = self._wait_for_exit(log, strace, timeout)
            strace.send_signal(signal.SIGTERM)
            strace.wait(30)
        execs = [line for line in log.read_text(errors="replace").splitlines()
                 if 'execve("' in line]
        return Result(script, code, out.read_text(), err.read_text(), execs)

    @staticmethod
    def _wait_for_exit(log: Path, strace: subprocess.Popen[bytes], timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = log.read_text(errors="replace").splitlines() if log.exists() else []
            if lines:
                top = lines[0].split()[0]
                for line in lines:
                    ended = re.match(rf"{top}\s+\+\+\+ (exited with (\d+)|killed by)", line)
                    if ended:
                        return int(ended[2]) if ended[2] else -1
            if strace.poll() is not None:  # nothing left to trace: strace exits as its child did
                return strace.returncode
            time.sleep(0.05)
        raise TimeoutError(f"the traced script did not end within {timeout:g} s")

    def read(self, path: str) -> str:
        return (self.path / path.lstrip("/")).read_text()

    def write(self, path: str, text: str, mode: int = 0o644) -> None:
        target = self.path / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)

    def close(self) -> None:
        if self.holder is not None:
            if self.init_pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.init_pid, signal.SIGKILL)
            self.holder.kill()
            self.holder.wait(30)
            self.holder = None
        if os.environ.get("PANTAU_KEEP_ROOT"):
            print(f"\nPANTAU_KEEP_ROOT: the root stays in {self.path}")
        elif self.path.exists() and self.path.name == "root":
            shutil.rmtree(self.path.parent)  # the root and the traces next to it
