"""The collector as a subprocess with HTTPS + basic auth, scraped by a real Prometheus.

The users file is written by the real `pantau-collector hash-password` (stdin
piped, as an installer script would), the certificates by deploy/scripts/pantau-ca.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import subprocess
import sys
import textwrap
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.collector.http_security.pki import Pki
from tests.deploy.binaries import PROMETHEUS, Server, http_json
from tests.support.mosquitto import MosquittoBroker, free_port, wait_for

pytestmark = pytest.mark.broker
REPO = Path(__file__).resolve().parents[3]
PASSWORD = "s3cret-MARK-7f3a"  # must appear in no log


@dataclass
class Collector:
    port: int
    pki: Pki
    workdir: Path
    proc: subprocess.Popen[bytes]

    @property
    def log(self) -> str:
        return (self.workdir / "collector.log").read_text()

    def get(self, path: str, user: str | None = None, password: str = PASSWORD
            ) -> tuple[int, dict[str, str], bytes]:
        """GET over HTTPS, verifying the server against the test CA."""
        headers = {}
        if user is not None:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        req = urllib.request.Request(f"https://127.0.0.1:{self.port}{path}", headers=headers)
        context = ssl.create_default_context(cafile=str(self.pki.ca))
        try:
            with urllib.request.urlopen(req, timeout=5, context=context) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()


def hash_password_line(user: str, password: str) -> str:
    result = subprocess.run([sys.executable, "-m", "collector.cli", "hash-password", user],
                            input=password + "\n", capture_output=True, text=True, cwd=REPO,
                            timeout=30, check=True)
    assert PASSWORD not in result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def collector(mosquitto: MosquittoBroker, pki: Pki,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    workdir = tmp_path_factory.mktemp("https-collector")
    (workdir / "users").write_text(hash_password_line("prometheus", PASSWORD))
    port = free_port()
    (workdir / "collector.toml").write_text(
        f'[broker]\nurl = "{mosquitto.url}"\n[state]\ndata_dir = "{workdir / "data"}"\n'
        f'[http]\nlisten = "127.0.0.1:{port}"\ntls_cert_file = "{pki.cert}"\n'
        f'tls_key_file = "{pki.key}"\nbasic_auth_users_file = "users"\n')
    with open(workdir / "collector.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "collector.cli", "run", "--config",
                                 str(workdir / "collector.toml"), "--log-level", "DEBUG"],
                                cwd=REPO, stdout=log, stderr=log)
    running = Collector(port, pki, workdir, proc)
    try:
        wait_for(lambda: _serving(running), 30, what="collector serving HTTPS")
        yield running
    finally:
        proc.terminate()
        proc.wait(10)


def _serving(collector: Collector) -> bool:
    if collector.proc.poll() is not None:
        raise RuntimeError(collector.log[-2000:])
    try:
        return collector.get("/healthz")[0] == 200
    except OSError:
        return False


def test_metrics_need_the_password(collector: Collector) -> None:
    status, headers, body = collector.get("/metrics", "prometheus")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    assert b"pantau_collector_broker_connected" in body


@pytest.mark.parametrize(("path", "user", "password"), [
    ("/metrics", None, PASSWORD),
    ("/metrics", "prometheus", "wrong"),
    ("/metrics", "someone", PASSWORD),
    ("/api/v1/stations", None, PASSWORD),
    ("/", None, PASSWORD),
    ("/readyz", None, PASSWORD),
])
def test_no_or_wrong_credentials_get_401_with_the_challenge(
        collector: Collector, path: str, user: str | None, password: str) -> None:
    status, headers, _ = collector.get(path, user, password)
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="pantau"'


def test_healthz_stays_open(collector: Collector) -> None:
    status, _, body = collector.get("/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})


def test_plain_http_to_the_tls_port_gets_no_http_answer(collector: Collector) -> None:
    with socket.create_connection(("127.0.0.1", collector.port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        try:
            answer = sock.recv(4096)
        except ConnectionResetError:
            answer = b""
    assert not answer.startswith(b"HTTP/")


def test_an_untrusted_client_cannot_complete_the_handshake(collector: Collector) -> None:
    """Without the CA a verifying client refuses the certificate: HTTPS is real, not a stub."""
    context = ssl.create_default_context()  # system CAs only
    with pytest.raises(ssl.SSLCertVerificationError):  # noqa: SIM117
        with socket.create_connection(("127.0.0.1", collector.port), timeout=5) as sock:
            context.wrap_socket(sock, server_hostname="127.0.0.1")


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls_older_than_1_2_is_refused_by_the_server(collector: Collector) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(collector.pki.ca))
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # this client would speak TLS 1.1 ...
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError) as refused:  # noqa: SIM117
        with socket.create_connection(("127.0.0.1", collector.port), timeout=5) as sock:
            context.wrap_socket(sock, server_hostname="127.0.0.1")
    # ... the server said no (asyncio closes the handshake, or OpenSSL alerts first)
    assert refused.value.reason in ("UNEXPECTED_EOF_WHILE_READING", "TLSV1_ALERT_PROTOCOL_VERSION")
    context.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
    with socket.create_connection(("127.0.0.1", collector.port), timeout=5) as sock, \
            context.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


def documented_scrape_settings() -> str:
    """Job pantau-collector's HTTPS + basic auth settings in deploy/prometheus/prometheus.yml."""
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "pantau-collector"]
    settings = {k: job[k] for k in ("scheme", "tls_config", "basic_auth")}
    return textwrap.indent(yaml.safe_dump(settings, sort_keys=False), "    ")


def prometheus_config(collector: Collector, workdir: Path) -> Path:
    (workdir / "password").write_text(PASSWORD)
    (workdir / "wrong").write_text("not-the-password")
    settings = documented_scrape_settings().replace(
        "/etc/prometheus/pantau-ca.crt", str(collector.pki.ca))

    def job(name: str, password_file: str) -> str:
        return (f"  - job_name: {name}\n" + settings.replace(
            "/etc/prometheus/pantau-collector.password", str(workdir / password_file))
            + f"    static_configs:\n      - targets: ['127.0.0.1:{collector.port}']\n")

    config = workdir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
                      + job("pantau-collector", "password") + job("wrong-password", "wrong"))
    return config


def targets(server: Server) -> dict[str, dict[str, Any]]:
    active = http_json(server.url + "/api/v1/targets")["data"]["activeTargets"]
    return {t["labels"]["job"]: t for t in active}


def up(server: Server, job: str) -> str | None:
    query = urllib.parse.quote(f'up{{job="{job}"}}')
    result = http_json(f"{server.url}/api/v1/query?query={query}")["data"]["result"]
    return result[0]["value"][1] if result else None


def test_prometheus_scrapes_over_https_with_basic_auth(
        collector: Collector, tmp_path: Path) -> None:
    config = prometheus_config(collector, tmp_path)

    def argv(port: int, wd: Path) -> list[str]:
        return [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={wd / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}"]

    server = Server(argv, tmp_path / "prometheus", "/-/ready").start()
    try:
        wait_for(lambda: up(server, "pantau-collector") == "1"
                 and up(server, "wrong-password") == "0", 30, what="both jobs scraped")
        found = targets(server)
        assert found["pantau-collector"]["health"] == "up"
        assert "401" in found["wrong-password"]["lastError"]
    finally:
        server.stop()
    assert PASSWORD not in collector.log
    assert "refused" in collector.log  # the wrong-password job was counted and logged
    assert "serving https://127.0.0.1" in collector.log
