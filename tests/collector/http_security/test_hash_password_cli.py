"""`pantau-collector hash-password USER` on a real pseudo-terminal (no echo) and piped."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from collector.http_passwords import parse_users

REPO = Path(__file__).resolve().parents[3]
CMD = [sys.executable, "-m", "collector.cli", "hash-password"]


def on_terminal(user: str, answers: list[str], timeout_s: float = 20.0) -> tuple[int, str]:
    """Run the command as a child with a pty as its controlling terminal; answer each prompt."""
    pid, fd = pty.fork()
    if pid == 0:  # child: nothing but exec, and never return into pytest
        try:
            os.chdir(REPO)
            os.execv(sys.executable, [*CMD, user])
        finally:
            os._exit(127)
    seen, answered, deadline = b"", 0, time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            # Answer each prompt once it is shown: getpass turns echo off before printing it.
            if answered < min(len(answers), seen.count(b"Password:") + seen.count(b"Again:")):
                os.write(fd, answers[answered].encode() + b"\n")
                answered += 1
            if not select.select([fd], [], [], 0.2)[0]:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


def test_on_a_terminal_the_password_is_not_echoed() -> None:
    code, seen = on_terminal("ops", ["tty-secret-1", "tty-secret-1"])
    assert code == 0, seen
    assert "Password:" in seen and "Again:" in seen
    assert "tty-secret-1" not in seen
    line = next(s for s in seen.splitlines() if s.startswith("ops:"))
    assert parse_users(line)["ops"].verify(b"tty-secret-1")


def test_on_a_terminal_two_different_answers_write_nothing() -> None:
    code, seen = on_terminal("ops", ["first", "second"])
    assert code == 2
    assert "the passwords differ; nothing written" in seen
    assert "scrypt$" not in seen


@pytest.mark.parametrize(("user", "stdin", "code", "stderr"), [
    ("prometheus", "pw with spaces\n", 0, ""),
    ("prometheus", "pw-crlf\r\n", 0, ""),
    ("prometheus", "\n", 2, "pantau-collector: hash-password: the password is empty\n"),
    ("pro:metheus", "pw\n", 2, "pantau-collector: hash-password: a user name is 1 to 64 "
                               "characters without spaces or ':'\n"),
])
def test_piped(user: str, stdin: str, code: int, stderr: str) -> None:
    result = subprocess.run([*CMD, user], input=stdin, capture_output=True, text=True, cwd=REPO,
                            timeout=30, check=False)
    assert (result.returncode, result.stderr) == (code, stderr)
    if code == 0:
        password = stdin.rstrip("\r\n").encode()
        assert parse_users(result.stdout)[user].verify(password)
        assert stdin.strip() not in result.stdout
