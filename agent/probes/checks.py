"""Network checks from the station: TCP connect and HTTP GET, each bounded by its timeout.

Checks run concurrently on a small thread pool and the probe waits at most the
longest timeout plus a short grace, so a hung peer or a stuck name lookup (which
socket timeouts do not cover) can never stall the agent's poll loop: a check
without a result by then is reported as timed out.

Most stations configure no checks: then no pool is made and concurrent.futures
(with queue and heapq) is never imported — about 0.2 MiB of the agent's RSS.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlsplit

from agent.config import AgentConfig, CheckSpec
from agent.probes.base import ProbeEnv, ProbeResult
from pantau.config import parse_host_port
from pantau.wire import Check

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

DEADLINE_GRACE_S = 0.5  # on top of the longest timeout, for thread hand-off
MAX_WORKERS = 8
USER_AGENT = "pantau-agent"


class ChecksProbe:
    name: ClassVar[str] = "checks"

    def __init__(self, config: AgentConfig, env: ProbeEnv) -> None:
        self._checks = config.checks
        self._pool: ThreadPoolExecutor | None = None
        if self._checks:
            from concurrent.futures import ThreadPoolExecutor  # only with checks: see above

            workers = min(MAX_WORKERS, len(self._checks))
            self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pantau-check")

    def probe(self) -> ProbeResult:
        if self._pool is None:
            return ProbeResult()
        from concurrent.futures import wait  # loaded by __init__ already

        futures: list[Future[Check]] = [self._pool.submit(run_check, c) for c in self._checks]
        wait(futures, timeout=max(c.timeout_s for c in self._checks) + DEADLINE_GRACE_S)
        return ProbeResult(checks=tuple(
            f.result() if f.done() else _failed(spec, _timed_out(spec.timeout_s))
            for spec, f in zip(self._checks, futures, strict=True)
        ))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def run_check(spec: CheckSpec) -> Check:
    """One check, never raising: every failure becomes a `failed` Check with a reason."""
    try:
        return check_tcp(spec) if spec.kind == "tcp" else check_http(spec)
    except Exception as exc:  # a check must report, never crash the probe
        return _failed(spec, f"check could not run: {type(exc).__name__}: {exc}")


def check_tcp(spec: CheckSpec) -> Check:
    host, port = parse_host_port(spec.target)
    where = f"{host}:{port}"
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=spec.timeout_s):
            pass
    except OSError as exc:
        return _failed(spec, describe_error(exc, where, spec.timeout_s))
    return _ok(spec, time.monotonic() - started)


def check_http(spec: CheckSpec) -> Check:
    parts = urlsplit(spec.target)
    host = parts.hostname or ""
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    conn = (
        http.client.HTTPSConnection(host, port, timeout=spec.timeout_s,
                                    context=ssl.create_default_context())
        if tls else http.client.HTTPConnection(host, port, timeout=spec.timeout_s)
    )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.monotonic()
    try:
        conn.request("GET", path, headers={"User-Agent": USER_AGENT, "Connection": "close"})
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        return _failed(spec, describe_error(exc, f"{host}:{port}", spec.timeout_s))
    finally:
        conn.close()
    latency = time.monotonic() - started
    if status != spec.expect_status:
        return _failed(spec, f"HTTP {status}, expected {spec.expect_status}", latency)
    return _ok(spec, latency)


def describe_error(exc: Exception, where: str, timeout_s: float) -> str:
    """What went wrong, in words an operator can act on."""
    if isinstance(exc, TimeoutError | socket.timeout):
        return _timed_out(timeout_s)
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused to {where}"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve {where.rsplit(':', 1)[0]}: {exc.strerror}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error with {where}: {exc.reason or exc}"
    if isinstance(exc, http.client.HTTPException):
        return f"bad HTTP response from {where}: {type(exc).__name__}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror.lower()} ({where})"
    return f"{type(exc).__name__}: {exc} ({where})"


def _timed_out(timeout_s: float) -> str:
    return f"timed out after {float(timeout_s)}s"


def _ok(spec: CheckSpec, latency_s: float) -> Check:
    return Check(id=spec.id, kind=spec.kind, status="ok", latency_s=max(0.0, latency_s))


def _failed(spec: CheckSpec, detail: str, latency_s: float | None = None) -> Check:
    latency = None if latency_s is None else max(0.0, latency_s)
    return Check(
        id=spec.id, kind=spec.kind, status="failed", latency_s=latency, detail=detail[:1024]
    )
