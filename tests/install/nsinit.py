"""PID 1 of the install test's namespaces: mounts the root's kernel filesystems, reaps.

Started by tests/install/root.py as
    unshare --net --mount --pid --fork --propagation private python3 nsinit.py ROOT
so it is alone in a new network namespace (loopback only: Debian's standard
ports 1883/8883/9090/9093 inside never meet the ones this machine already
uses), a new mount namespace (nothing here is visible outside, and it all goes
away with the namespace) and a new PID namespace (when this process dies the
kernel kills every service the test started in the root). It prints "ready"
once the root is usable, then reaps orphans until killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

# (device, major, minor) made in the root's own /dev.
DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
           ("urandom", 1, 9), ("tty", 5, 0))


def mount(*argv: str) -> None:
    subprocess.run(["/usr/bin/mount", *argv], check=True)


def prepare(root: Path) -> None:
    subprocess.run(["/usr/sbin/ip", "link", "set", "lo", "up"], check=True)
    mount("-t", "proc", "proc", str(root / "proc"))
    mount("-t", "sysfs", "-o", "ro", "sysfs", str(root / "sys"))
    mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", str(root / "dev"))
    for name, major, minor in DEVICES:
        os.mknod(root / "dev" / name, 0o20666, os.makedev(major, minor))
        os.chmod(root / "dev" / name, 0o666)
    for sub in ("pts", "shm"):
        (root / "dev" / sub).mkdir()
    mount("-t", "devpts", "-o", "newinstance,ptmxmode=0666", "devpts", str(root / "dev/pts"))
    os.symlink("pts/ptmx", root / "dev" / "ptmx")
    # As udev/systemd make them on a booted system (bash's <(...) needs /dev/fd).
    for link, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, root / "dev" / link)
    mount("-t", "tmpfs", "-o", "mode=1777", "tmpfs", str(root / "dev/shm"))
    mount("-t", "tmpfs", "-o", "mode=0755", "tmpfs", str(root / "run"))
    mount("-t", "tmpfs", "-o", "mode=1777", "tmpfs", str(root / "tmp"))
    (root / "run" / "lock").mkdir(mode=0o1777)


def reap_forever() -> None:
    # SIGCHLD stays blocked and is taken with sigwaitinfo: one that arrives while
    # reaping stays pending, so no exit is missed. (Only after prepare(): a
    # signal mask is inherited by children.)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        signal.sigwaitinfo({signal.SIGCHLD})


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if sys.argv[1:] in (["-h"], ["--help"]) else 2)
    prepare(Path(sys.argv[1]))
    print("ready", flush=True)
    reap_forever()


if __name__ == "__main__":
    main()
