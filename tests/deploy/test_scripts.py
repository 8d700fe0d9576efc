"""The operator scripts in deploy/scripts (installed as /usr/sbin/pantau-*).

Each answers --help; enroll keeps the station password off every command line
and the password file 0640 root:mosquitto; retire takes the broker from the
collector's config and refuses clearly when it cannot. Retiring against a
real broker (argv traced too) is in test_mosquitto_acl.py.
"""

from __future__ import annotations

import grp
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.binaries import REPO
from tests.deploy.tls_broker import run_script
from tests.deploy.traced import run_traced

SCRIPTS = ["pantau-ca", "pantau-enroll-station", "pantau-retire-station"]
SITE = "medan-baru"


@pytest.mark.parametrize("name", SCRIPTS)
def test_help_exits_0_and_shows_the_usage(name: str) -> None:
    result = run_script(name, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{name}: ") and f"\n  {name} " in result.stdout
    assert result.stderr == ""


# Programs of deploy/ and of the install test, run as `python3 FILE --help` or `FILE --help`.
HELPERS = ["deploy/packaging/build.py", "deploy/grafana/build_dashboards.py",
           "deploy/docker/healthcheck.py", "tests/install/setup.sh",
           "tests/install/systemctl_shim.py", "tests/install/nsinit.py",
           "tests/install/retained_check.py"]


@pytest.mark.parametrize("path", HELPERS)
def test_every_helper_answers_help_with_exit_0(path: str) -> None:
    argv = ["bash", path] if path.endswith(".sh") else [sys.executable, path]
    done = subprocess.run([*argv, "--help"], cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) >= 3, done.stdout


@pytest.mark.parametrize("name", SCRIPTS)
def test_unknown_option_points_at_help(name: str) -> None:
    result = run_script(name, "--no-such-option", "x")
    assert result.returncode == 2
    assert f"{name} --help" in result.stderr


def test_enroll_keeps_the_password_off_command_lines_and_the_file_private(
        tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    for station in ("medan-baru-01", "medan-baru-02"):  # creates the file, then adds to it
        traced = run_traced("pantau-enroll-station", "--site", SITE, "--station", station,
                            "--out", str(tmp_path / station), "--passwd-file", str(passwd),
                            workdir=tmp_path)
        assert traced.result.returncode == 0, traced.result.stderr
        password = (tmp_path / station / "broker.password").read_text()
        assert len(password) == 32
        assert "mosquitto_passwd" in {Path(p).name for p in traced.programs()}
        assert traced.leaks(password) == []
        assert f"{station}:" in passwd.read_text()
        mode = passwd.stat()
        assert stat.S_IMODE(mode.st_mode) == 0o640
        assert grp.getgrgid(mode.st_gid).gr_name == "mosquitto"
        assert stat.S_IMODE((tmp_path / station / "broker.password").stat().st_mode) == 0o600


def _config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "collector.toml"
    path.write_text(text)
    return str(path)


RETIRE_REFUSALS = [
    ("plain-mqtt", '[broker]\nurl = "mqtt://127.0.0.1:1883"\nca_file = "/x"\n', [],
     "is not mqtts://"),
    ("no-config", None, [], "is not readable: give them, or --config FILE"),
    ("no-ca-file", '[broker]\nurl = "mqtts://127.0.0.1:8883"\n', [], "has no broker.ca_file"),
    ("broken-toml", "[broker\n", [], "cannot take the broker from"),
    ("no-admin-password", '[broker]\nurl = "mqtts://h:8883"\nca_file = "/x"\n',
     ["--admin-password-file", "/nonexistent"], "is not readable (docs/install-central.md"),
]


@pytest.mark.parametrize(("config", "extra", "message"),
                         [r[1:] for r in RETIRE_REFUSALS], ids=[r[0] for r in RETIRE_REFUSALS])
def test_retire_refuses_what_it_cannot_use(tmp_path: Path, config: str | None,
                                           extra: list[str], message: str) -> None:
    admin = tmp_path / "admin.password"
    admin.write_text("secret")
    path = _config(tmp_path, config) if config is not None else str(tmp_path / "missing.toml")
    result = run_script("pantau-retire-station", "--site", SITE, "--station", "medan-baru-01",
                        "--config", path, "--admin-password-file", str(admin), *extra)
    assert result.returncode == 2
    assert "pantau-retire-station: " in result.stderr and message in result.stderr


def test_retire_refuses_an_admin_password_with_spaces(tmp_path: Path) -> None:
    admin = tmp_path / "admin.password"
    admin.write_text("two words")
    os.chmod(admin, 0o600)
    result = run_script("pantau-retire-station", "--site", SITE, "--station", "medan-baru-01",
                        "--host", "127.0.0.1", "--port", "8883", "--ca-file", "/x",
                        "--admin-password-file", str(admin))
    assert result.returncode == 2 and "without spaces" in result.stderr


def _nats_users(tmp_path: Path, lines: str = "", name: str = "users.conf",
                closing: str = "]\n") -> str:
    path = tmp_path / name
    path.write_text(f"users = [\n{lines}{closing}")
    return str(path)


ENROLL_NATS_REFUSALS = [
    ("no-users-file", lambda p: str(p / "missing.conf"), ["--site", SITE, "--station", "s-01"],
     "NATS users file '{tmp}/missing.conf' does not exist: install it from "
     "/usr/share/pantau/nats/users.conf (docs/ha.md)"),
    ("no-closing-bracket", lambda p: _nats_users(p, name="u.conf", closing=""),
     ["--site", SITE, "--station", "s-01"],
     "'{tmp}/u.conf' has no line holding only ']' to add accounts before: restore it from "
     "/usr/share/pantau/nats/users.conf"),
    ("already-enrolled", lambda p: _nats_users(p, '  {user: "s-01", password: "x"}\n'),
     ["--site", SITE, "--station", "s-01"],
     "'s-01' already has an account in {tmp}/users.conf; run pantau-retire-station "
     "--nats-users first to re-enroll it"),
    ("cert-and-nats", _nats_users, ["--site", SITE, "--station", "s-01", "--cert", "/x"],
     "--cert and --nats-users do not go together: NATS accounts here are passwords"),
    ("bad-service", _nats_users, ["--service", "pantau-nobody"],
     "--service 'pantau-nobody' must be pantau-collector, pantau-collector-a, "
     "pantau-collector-b or pantau-admin"),
]


@pytest.mark.parametrize(("users", "args", "message"), [r[1:] for r in ENROLL_NATS_REFUSALS],
                         ids=[r[0] for r in ENROLL_NATS_REFUSALS])
def test_enroll_nats_refuses_what_it_cannot_use(tmp_path: Path, users: Any, args: list[str],
                                                message: str) -> None:
    result = run_script("pantau-enroll-station", "--nats-users", users(tmp_path),
                        "--out", str(tmp_path / "out"), *args)
    assert result.returncode == 2
    assert result.stderr == f"pantau-enroll-station: {message.format(tmp=tmp_path)}\n"
    assert not (tmp_path / "out" / "broker.password").exists()


def test_enroll_service_needs_nats(tmp_path: Path) -> None:
    result = run_script("pantau-enroll-station", "--service", "pantau-collector",
                        "--out", str(tmp_path))
    assert result.returncode == 2
    assert "--service is for NATS accounts: give --nats-users FILE too" in result.stderr


def test_enroll_nats_replaces_a_retired_line_and_keeps_the_others(tmp_path: Path) -> None:
    users = _nats_users(tmp_path, '  {user: "s-01", password: "old"}  # retired\n'
                                  '  {user: "s-02", password: "keep"}\n')
    result = run_script("pantau-enroll-station", "--nats-users", users, "--site", SITE,
                        "--station", "s-01", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    lines = Path(users).read_text().splitlines()
    assert lines[0] == "users = [" and lines[-1] == "]"
    assert lines[1] == '  {user: "s-02", password: "keep"}'
    assert lines[2].startswith('  {user: "s-01", password: "$2b$06$') and "retired" not in lines[2]
    assert 'allow: ["pantau.v1.*.s-01.>"]' in lines[2]
    assert len(lines) == 4
