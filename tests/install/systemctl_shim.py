#!/usr/bin/python3
"""`systemctl` for the install test's Debian root, where systemd is not PID 1.

Installed as /usr/bin/systemctl in the root (the real one diverted with
dpkg-divert), so the docs' `systemctl enable --now …` run as written. It reads
the real unit files (with drop-ins) and starts ExecStartPre/ExecStart as the
unit's User=/Group=, with its Environment=, EnvironmentFile=, UMask=,
StateDirectory= and friends, and /proc mounted as ProtectProc=/ProcSubset= ask
(in a mount namespace of the service's own). Type=notify waits for READY=1,
as systemd does. Every other sandboxing setting needs systemd and is not
applied: the service log says which. Verbs it does not implement fail loudly,
and so do unit settings it does not know.

Stdlib only: it runs on the root's own /usr/bin/python3. State lives in
/run/shim, each service's output in /var/log/shim/UNIT.log.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shlex
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

UNIT_DIRS = (Path("/etc/systemd/system"), Path("/run/systemd/system"),
             Path("/lib/systemd/system"), Path("/usr/lib/systemd/system"))
STATE = Path("/run/shim")
LOGS = Path("/var/log/shim")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# [Service] settings the shim applies.
APPLIED = {
    "Type", "ExecStartPre", "ExecStart", "ExecReload", "User", "Group", "SupplementaryGroups",
    "Environment", "EnvironmentFile", "WorkingDirectory", "UMask", "ProtectProc", "ProcSubset",
    "StateDirectory", "StateDirectoryMode", "RuntimeDirectory", "RuntimeDirectoryMode",
    "LogsDirectory", "LogsDirectoryMode", "CacheDirectory", "CacheDirectoryMode",
    "ConfigurationDirectory", "ConfigurationDirectoryMode", "TimeoutStartSec",
    "TimeoutStopSec", "KillSignal", "SendSIGKILL", "NotifyAccess",
}
# [Service] settings that need systemd itself: known, not applied, listed in the log.
NOT_APPLIED = {
    "Restart", "RestartSec", "RestartPreventExitStatus", "WatchdogSec", "NoNewPrivileges",
    "CapabilityBoundingSet", "AmbientCapabilities", "ProtectSystem", "ProtectHome", "PrivateTmp",
    "PrivateDevices", "PrivateIPC", "PrivateUsers", "PrivateNetwork", "PrivateMounts",
    "ProtectHostname", "ProtectClock", "ProtectKernelTunables", "ProtectKernelModules",
    "ProtectKernelLogs", "ProtectControlGroups", "RestrictNamespaces", "RestrictRealtime",
    "RestrictSUIDSGID", "LockPersonality", "MemoryDenyWriteExecute", "RemoveIPC", "KeyringMode",
    "DevicePolicy", "DeviceAllow", "RestrictAddressFamilies", "SystemCallArchitectures",
    "SystemCallFilter", "SystemCallErrorNumber", "MemoryMax", "TasksMax", "LimitMEMLOCK",
    "LimitNOFILE", "IPAddressDeny", "IPAddressAllow", "ReadWritePaths", "ReadOnlyPaths",
}
VERBS = ("daemon-reload", "enable", "disable", "start", "stop", "restart", "try-restart",
         "reload", "is-active", "is-enabled", "status")
PROC_OPTIONS = {("ProtectProc", "invisible"): "hidepid=invisible",
                ("ProtectProc", "noaccess"): "hidepid=noaccess",
                ("ProtectProc", "ptraceable"): "hidepid=ptraceable",
                ("ProcSubset", "pid"): "subset=pid"}


class ShimError(Exception):
    """What the shim cannot do; the message says which unit, setting or verb."""


@dataclass
class Unit:
    name: str
    path: Path
    sections: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def get(self, key: str, default: str = "", section: str = "Service") -> str:
        values = self.sections.get(section, {}).get(key, [])
        return values[-1] if values else default

    def all(self, key: str, section: str = "Service") -> list[str]:
        return self.sections.get(section, {}).get(key, [])


def find_unit(name: str) -> Unit:
    if "." not in name:
        name += ".service"
    for directory in UNIT_DIRS:
        path = directory / name
        if path.is_file():
            unit = Unit(name, path)
            parse_into(unit, path)
            for dropin in dropins(name):
                parse_into(unit, dropin)
            return unit
    raise ShimError(f"Unit {name} could not be found.")


def dropins(name: str) -> list[Path]:
    """NAME.d/*.conf from every unit directory; a file name in an earlier directory wins."""
    chosen: dict[str, Path] = {}
    for directory in UNIT_DIRS:
        for conf in sorted((directory / f"{name}.d").glob("*.conf")):
            chosen.setdefault(conf.name, conf)
    return [chosen[n] for n in sorted(chosen)]


def parse_into(unit: Unit, path: Path) -> None:
    section = ""
    text = path.read_text().replace("\\\n", " ")
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        values = unit.sections.setdefault(section, {}).setdefault(key, [])
        if value == "":
            values.clear()  # an empty assignment resets a list, as in systemd
        else:
            values.append(value)
        if section == "Service" and key not in APPLIED | NOT_APPLIED:
            raise ShimError(f"{path}: [Service] {key}= is not known to the systemctl shim; "
                            "teach tests/install/systemctl_shim.py or drop the setting")


def seconds(value: str, default: float) -> float:
    if not value or value == "infinity":
        return default
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*(ms|min|s|h)?", value):
        total += float(number) * {"ms": 0.001, "min": 60.0, "h": 3600.0}.get(unit, 1.0)
    return total


def proc_mount_options(unit: Unit) -> str:
    """The options /proc is mounted with for this unit ("" = the plain /proc)."""
    options = []
    for key in ("ProtectProc", "ProcSubset"):
        value = unit.get(key)
        if value in ("", "default", "all"):
            continue
        if (key, value) not in PROC_OPTIONS:
            raise ShimError(f"{unit.name}: {key}={value} is not implemented by the shim")
        options.append(PROC_OPTIONS[(key, value)])
    return ",".join(options)


def environment(unit: Unit, user: pwd.struct_passwd | None) -> dict[str, str]:
    env = {"PATH": PATH, "LANG": "C.UTF-8"}
    if user is not None:
        env.update(HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name,
                   SHELL=user.pw_shell)
    for kind in ("State", "Runtime", "Logs", "Cache", "Configuration"):
        names = unit.get(f"{kind}Directory").split()
        if names:
            base = {"State": "/var/lib", "Runtime": "/run", "Logs": "/var/log",
                    "Cache": "/var/cache", "Configuration": "/etc"}[kind]
            env[f"{kind.upper()}_DIRECTORY"] = ":".join(f"{base}/{n}" for n in names)
    for spec in unit.all("EnvironmentFile"):
        optional, path = spec.startswith("-"), Path(spec.lstrip("-"))
        if not path.exists():
            if optional:
                continue
            raise ShimError(f"{unit.name}: EnvironmentFile {path} does not exist")
        for line in path.read_text().splitlines():
            line = line.strip()
            if line and line[0] not in "#;" and "=" in line:
                key, _, value = line.partition("=")
                env[key.strip()] = " ".join(shlex.split(value)) if value.strip() else ""
    for spec in unit.all("Environment"):
        for assignment in shlex.split(spec):
            key, _, value = assignment.partition("=")
            env[key] = value
    return env


def command(line: str, env: dict[str, str], unit: Unit) -> tuple[list[str], bool]:
    """argv of an Exec line with $VAR/${VAR} expanded as systemd does; and 'may fail'."""
    may_fail = line.startswith("-")
    line = line.lstrip("-")
    if line[:1] in ("+", "!", "@", ":"):
        raise ShimError(f"{unit.name}: Exec prefix {line[0]!r} is not implemented by the shim")
    if "%" in line:
        raise ShimError(f"{unit.name}: specifiers (%) are not implemented by the shim: {line}")
    argv: list[str] = []
    for word in shlex.split(line):
        whole = re.fullmatch(r"\$(\w+)", word)
        if whole:  # $VAR alone: split into words
            argv += env.get(whole[1], "").split()
            continue
        argv.append(re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m[1] or m[2], ""), word))
    return argv, may_fail


def credentials(unit: Unit) -> tuple[pwd.struct_passwd | None, list[str]]:
    """The user entry and the setpriv arguments that become that user (none for root)."""
    name = unit.get("User")
    if not name or name == "root":
        return None, []
    try:
        user = pwd.getpwnam(name)
    except KeyError:
        raise ShimError(f"{unit.name}: User={name} does not exist") from None
    group = grp.getgrnam(unit.get("Group")).gr_gid if unit.get("Group") else user.pw_gid
    extra = [str(grp.getgrnam(g).gr_gid) for s in unit.all("SupplementaryGroups")
             for g in s.split()]
    groups = ["--groups", ",".join([str(group), *extra])] if extra else ["--init-groups"]
    return user, ["setpriv", f"--reuid={user.pw_uid}", f"--regid={group}", *groups, "--"]


def make_directories(unit: Unit, user: pwd.struct_passwd | None) -> None:
    bases = {"State": "/var/lib", "Runtime": "/run", "Logs": "/var/log", "Cache": "/var/cache",
             "Configuration": "/etc"}
    for kind, base in bases.items():
        mode = int(unit.get(f"{kind}DirectoryMode", "0755"), 8)
        for name in unit.get(f"{kind}Directory").split():
            path = Path(base) / name
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(mode)
            if user is not None and kind != "Configuration":
                os.chown(path, user.pw_uid, user.pw_gid)


def state_file(unit: Unit, kind: str) -> Path:
    return STATE / f"{unit.name}.{kind}"


def main_pid(unit: Unit) -> int | None:
    try:
        pid = int(state_file(unit, "pid").read_text())
    except (OSError, ValueError):
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return pid if stat[stat.rindex(")") + 2] != "Z" else None


def run_now(argv: list[str], env: dict[str, str], log: Path, cwd: str | None) -> int:
    with open(log, "ab") as out:
        pid = os.fork()
        if pid == 0:
            try:
                os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
                os.dup2(out.fileno(), 1)
                os.dup2(out.fileno(), 2)
                if cwd:
                    os.chdir(cwd)
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def start(unit: Unit) -> None:
    if main_pid(unit) is not None:
        return
    kind = unit.get("Type", "simple")
    if kind not in ("simple", "exec", "notify"):
        raise ShimError(f"{unit.name}: Type={kind} is not implemented by the shim")
    if not unit.all("ExecStart"):
        raise ShimError(f"{unit.name}: no ExecStart=")
    STATE.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{unit.name}.log"
    user, become = credentials(unit)
    env = environment(unit, user)
    make_directories(unit, user)
    umask = int(unit.get("UMask", "0022"), 8)
    cwd = unit.get("WorkingDirectory").lstrip("-") or None
    ignored = sorted(k for k in unit.sections.get("Service", {}) if k in NOT_APPLIED)
    with open(log, "a") as out:
        out.write(f"--- shim: starting {unit.name} as {user.pw_name if user else 'root'}; "
                  f"not applied without systemd: {', '.join(ignored) or 'nothing'}\n")
    old_umask = os.umask(umask)
    try:
        for line in unit.all("ExecStartPre"):
            argv, may_fail = command(line, env, unit)
            code = run_now(become + argv, env, log, cwd)
            if code != 0 and not may_fail:
                raise ShimError(f"Job for {unit.name} failed: ExecStartPre {argv} exited {code}."
                                f"\n{tail(log)}")
    finally:
        os.umask(old_umask)
    argv, _ = command(unit.all("ExecStart")[-1], env, unit)
    proc = proc_mount_options(unit)
    if proc:
        # A mount namespace of the service's own, /proc mounted as systemd would,
        # then the user switch; each step execs, so the main PID stays the same.
        # (--propagation unchanged: in a chroot / is no mount point to make private;
        # the test root's namespace is private already.)
        argv = ["unshare", "--mount", "--propagation", "unchanged", "--", "/bin/sh", "-c",
                'mount -t proc -o "$1" proc /proc && shift && exec "$@"', "sh", proc,
                *become, *argv]
    else:
        argv = become + argv
    supervise(unit, kind, argv, env, log, umask, cwd)


def supervise(unit: Unit, kind: str, argv: list[str], env: dict[str, str], log: Path,
              umask: int, cwd: str | None) -> None:
    """Fork a supervisor that runs the service and outlives this command."""
    notify_path = state_file(unit, "notify")
    notify = None
    if kind == "notify":
        notify_path.unlink(missing_ok=True)
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(notify_path))
        notify_path.chmod(0o777)  # the service's user must be able to send to it
        env = {**env, "NOTIFY_SOCKET": str(notify_path)}
    report_r, report_w = os.pipe()
    if os.fork() > 0:
        os.close(report_w)
        with os.fdopen(report_r) as report:
            verdict = report.read()
        if verdict != "ready":
            raise ShimError(f"Job for {unit.name} failed: {verdict}\n{tail(log)}")
        return
    os.close(report_r)
    os.setsid()
    # Let go of the caller's terminal or pipes: whoever runs `systemctl start`
    # must see end-of-file when it ends, not when the service does.
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.umask(umask)
    with os.fdopen(report_w, "w") as report:
        pid = spawn(argv, env, log, cwd)
        state_file(unit, "pid").write_text(str(pid))
        state_file(unit, "result").write_text("running")
        verdict = "ready" if notify is None else wait_ready(
            notify, pid, seconds(unit.get("TimeoutStartSec"), 90.0))
        report.write(verdict)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    state_file(unit, "result").write_text(f"exited {code}")
    os._exit(0)


def spawn(argv: list[str], env: dict[str, str], log: Path, cwd: str | None) -> int:
    out = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(out, 1)
            os.dup2(out, 2)
            if cwd:
                os.chdir(cwd)
            os.execvpe(argv[0], argv, env)
        finally:
            os._exit(127)
    os.close(out)
    return pid


def wait_ready(notify: socket.socket, pid: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    notify.settimeout(0.2)
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return f"main process exited ({os.waitstatus_to_exitcode(status)}) before READY=1"
        try:
            message = notify.recv(4096).decode(errors="replace")
        except TimeoutError:
            continue
        if "READY=1" in message.split("\n"):
            return "ready"
    os.kill(pid, signal.SIGKILL)
    return f"no READY=1 within TimeoutStartSec ({timeout:g} s)"


def stop(unit: Unit) -> None:
    pid = main_pid(unit)
    if pid is None:
        return
    sig = getattr(signal, unit.get("KillSignal", "SIGTERM"))
    os.killpg(pid, sig)
    if wait_gone(unit, seconds(unit.get("TimeoutStopSec"), 90.0)):
        return
    if unit.get("SendSIGKILL", "yes") == "no":
        raise ShimError(f"{unit.name}: still running {unit.get('TimeoutStopSec')} after "
                        f"{sig.name}, and SendSIGKILL=no")
    os.killpg(pid, signal.SIGKILL)
    if not wait_gone(unit, 10.0):
        raise ShimError(f"{unit.name}: PID {pid} survived SIGKILL")


def wait_gone(unit: Unit, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if main_pid(unit) is None:
            return True
        time.sleep(0.05)
    return False


def reload(unit: Unit) -> None:
    pid = main_pid(unit)
    if pid is None:
        raise ShimError(f"{unit.name} is not active, cannot reload.")
    if not unit.all("ExecReload"):
        raise ShimError(f"Failed to reload {unit.name}: Job type reload is not applicable.")
    user, become = credentials(unit)
    env = {**environment(unit, user), "MAINPID": str(pid)}
    for line in unit.all("ExecReload"):
        argv, may_fail = command(line, env, unit)
        code = run_now(become + argv, env, LOGS / f"{unit.name}.log", None)
        if code != 0 and not may_fail:
            raise ShimError(f"Job for {unit.name} failed: ExecReload {argv} exited {code}")


def wants_links(unit: Unit) -> list[Path]:
    return [Path("/etc/systemd/system") / f"{target}.wants" / unit.name
            for entry in unit.all("WantedBy", "Install") for target in entry.split()]


def enable(unit: Unit) -> None:
    links = wants_links(unit)
    if not links:
        raise ShimError(f"{unit.name} has no WantedBy= in [Install]; nothing to enable")
    for link in links:
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(unit.path)
            print(f"Created symlink {link} → {unit.path}.")


def disable(unit: Unit) -> None:
    for link in wants_links(unit):
        if link.is_symlink():
            link.unlink()
            print(f"Removed {link}.")


def is_enabled(unit: Unit) -> bool:
    links = wants_links(unit)
    return bool(links) and all(link.is_symlink() for link in links)


def tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


def status(unit: Unit) -> bool:
    pid = main_pid(unit)
    try:
        result = state_file(unit, "result").read_text()
    except OSError:
        result = "never started"
    active = f"active (running), main PID {pid}" if pid else f"inactive ({result})"
    print(f"● {unit.name} - {unit.get('Description', section='Unit')}\n"
          f"     Loaded: loaded ({unit.path}; "
          f"{'enabled' if is_enabled(unit) else 'disabled'})\n"
          f"     Active: {active}\n{tail(LOGS / f'{unit.name}.log', 10)}\n")
    return pid is not None


def main(args: list[str]) -> int:
    if args in (["-h"], ["--help"]):
        print(f"{__doc__}\nverbs: {', '.join(VERBS)}")
        return 0
    options = {a for a in args if a.startswith("-")}
    words = [a for a in args if not a.startswith("-")]
    unknown = options - {"--no-pager", "--quiet", "-q", "--system", "--now", "--no-block"}
    if not words or words[0] not in VERBS or unknown:
        what = words[0] if words and words[0] not in VERBS else " ".join(sorted(unknown))
        print(f"systemctl (install test shim): '{what or '(none)'}' is not implemented; "
              f"verbs: {', '.join(VERBS)}", file=sys.stderr)
        return 1
    verb, names = words[0], words[1:]
    quiet = bool(options & {"--quiet", "-q"})
    if verb == "daemon-reload":
        return 0
    try:
        units = [find_unit(n) for n in names]
        if not units:
            raise ShimError(f"systemctl {verb}: give a unit name")
        if verb in ("is-active", "is-enabled", "status"):
            ok = True
            for unit in units:
                if verb == "status":
                    ok = status(unit) and ok
                    continue
                yes = main_pid(unit) is not None if verb == "is-active" else is_enabled(unit)
                if not quiet:
                    print(("active" if yes else "inactive") if verb == "is-active"
                          else ("enabled" if yes else "disabled"))
                ok = yes and ok
            return 0 if ok else 3 if verb == "status" else 1
        for unit in units:
            if verb == "enable":
                enable(unit)
            if verb == "disable":
                disable(unit)
            if verb in ("stop", "restart") or (verb == "disable" and "--now" in options):
                stop(unit)
            if verb == "try-restart" and main_pid(unit) is not None:
                stop(unit)
                start(unit)
            if verb in ("start", "restart") or (verb == "enable" and "--now" in options):
                start(unit)
            if verb == "reload":
                reload(unit)
    except ShimError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
