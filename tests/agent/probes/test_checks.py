"""Network checks against real loopback servers started by the tests."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.config import AgentConfig, CheckSpec
from agent.probes.base import ProbeEnv
from agent.probes.checks import ChecksProbe
from pantau.wire import Check
from tests.support.mosquitto import free_port

RELEASE = threading.Event()  # lets the slow handlers finish when a test is over


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/slow":
            RELEASE.wait(10)  # answers only once the test releases it
        elif self.path == "/trickle":
            return self._trickle()
        code = int(self.path.rsplit("/", 1)[1]) if self.path.startswith("/status/") else 200
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _trickle(self) -> None:
        # Each byte comes well within the socket timeout, so only the probe's
        # own deadline can stop a check that talks to this.
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        while not RELEASE.wait(0.05):
            self.wfile.write(b"X-Slow: 1\r\n")
            self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        pass


class Garbage(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")


def serve(server: socketserver.BaseServer) -> Iterator[int]:
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server.server_address[1]  # type: ignore[misc]
    RELEASE.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def http_port() -> Iterator[int]:
    RELEASE.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    yield from serve(server)


@pytest.fixture
def garbage_port() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Garbage)
    server.daemon_threads = True
    yield from serve(server)


@pytest.fixture
def listening_port() -> Iterator[int]:
    # The kernel completes the TCP handshake from the backlog; no accept needed.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def run(*specs: CheckSpec) -> tuple[Check, ...]:
    probe = ChecksProbe(AgentConfig(station="s1", site="x", checks=specs), ProbeEnv())
    try:
        return probe.probe().checks
    finally:
        probe.close()


def http(path: str, port: int, expect: int = 200, timeout: float = 3.0) -> CheckSpec:
    target = f"http://127.0.0.1:{port}{path}"
    return CheckSpec(id="api", kind="http", target=target, expect_status=expect, timeout_s=timeout)


@pytest.mark.parametrize(
    ("path", "expect", "status", "detail"),
    [
        ("/health", 200, "ok", ""),
        ("/status/204", 204, "ok", ""),
        ("/status/503", 200, "failed", "HTTP 503, expected 200"),
        ("/status/200", 302, "failed", "HTTP 200, expected 302"),
        ("/slow", 200, "failed", "timed out after 0.3s"),
    ],
)
def test_http_check(http_port: int, path: str, expect: int, status: str, detail: str) -> None:
    (check,) = run(http(path, http_port, expect, timeout=0.3))
    assert (check.id, check.kind, check.status, check.detail) == ("api", "http", status, detail)
    assert (check.latency_s is None) == (detail.startswith("timed out"))


def test_tcp_check_ok_against_a_listener(listening_port: int) -> None:
    spec = CheckSpec(id="server", kind="tcp", target=f"127.0.0.1:{listening_port}")
    (check,) = run(spec)
    assert (check.status, check.detail) == ("ok", "")
    assert check.latency_s is not None and check.latency_s >= 0.0


@pytest.mark.parametrize("kind", ["tcp", "http"])
def test_refused_port_is_named(kind: str) -> None:
    port = free_port()  # bound then closed: nothing listens there now
    target = f"127.0.0.1:{port}" if kind == "tcp" else f"http://127.0.0.1:{port}/"
    (check,) = run(CheckSpec(id="server", kind=kind, target=target))  # type: ignore[arg-type]
    assert (check.status, check.detail, check.latency_s) == (
        "failed", f"connection refused to 127.0.0.1:{port}", None)


def test_non_http_answer_is_a_bad_response(garbage_port: int) -> None:
    (check,) = run(http("/", garbage_port))
    assert check.status == "failed"
    assert check.detail == f"bad HTTP response from 127.0.0.1:{garbage_port}: BadStatusLine"


def test_probe_deadline_bounds_a_peer_that_never_finishes(http_port: int) -> None:
    (check,) = run(http("/trickle", http_port, timeout=0.3))
    assert (check.status, check.detail, check.latency_s) == ("failed", "timed out after 0.3s", None)


def test_checks_run_together_and_keep_config_order(http_port: int, listening_port: int) -> None:
    specs = [
        CheckSpec(id=f"slow-{i}", kind="http", target=f"http://127.0.0.1:{http_port}/slow",
                  timeout_s=0.3)
        for i in range(3)
    ] + [CheckSpec(id="server", kind="tcp", target=f"127.0.0.1:{listening_port}")]
    checks = run(*specs)
    assert [(c.id, c.status) for c in checks] == [
        ("slow-0", "failed"), ("slow-1", "failed"), ("slow-2", "failed"), ("server", "ok")]


def test_no_checks_no_result() -> None:
    assert run() == ()
