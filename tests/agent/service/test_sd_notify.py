"""sd_notify against a real datagram socket, as systemd would listen."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pantau.sd_notify import Notifier


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    yield path, sock
    sock.close()


def test_messages_reach_the_socket(listener: tuple[str, socket.socket]) -> None:
    path, sock = listener
    notifier = Notifier.from_env({"NOTIFY_SOCKET": path})
    assert notifier.ready("connected") and notifier.watchdog() and notifier.stopping()
    assert sock.recv(256) == b"READY=1\nSTATUS=connected"
    assert sock.recv(256) == b"WATCHDOG=1"
    assert sock.recv(256) == b"STOPPING=1"


def test_abstract_socket_name() -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"pantau-test-{os.getpid()}"
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        assert Notifier.from_env({"NOTIFY_SOCKET": "@" + name}).ready()
        assert sock.recv(64) == b"READY=1"
    finally:
        sock.close()


@pytest.mark.parametrize(("env", "enabled", "interval"), [
    ({}, False, None),
    ({"NOTIFY_SOCKET": "/run/x"}, True, None),
    ({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000"}, True, 15.0),
    ({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, True, None),
    ({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "junk"}, True, None),
])
def test_from_env(env: dict[str, str], enabled: bool, interval: float | None) -> None:
    notifier = Notifier.from_env(env)
    assert notifier.enabled is enabled
    assert notifier.watchdog_interval_s == interval


def test_missing_socket_is_not_fatal(tmp_path: Path) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert notifier.watchdog() is False
    assert Notifier.from_env({}).ready() is False
