"""Username + password_file and TLS (mqtts) against a real Mosquitto configured for them."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from msgspec import structs

from agent.mqtt.publisher import Publisher
from tests.agent.publisher.helpers import agent_config, new_station
from tests.support.mosquitto import MosquittoBroker, wait_for

# Run as root, Mosquitto reads these files only after dropping to its own user, which
# cannot enter pytest's private tmp dirs; the test broker keeps root instead.
STAY_ROOT = "user root\n"


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


@pytest.fixture
def auth_broker(tmp_path: Path, broker_factory: Callable[..., MosquittoBroker]) -> MosquittoBroker:
    passwd = tmp_path / "passwd"
    _run("mosquitto_passwd", "-b", "-c", str(passwd), "station1", "s3cret pass")
    return broker_factory(extra_config=STAY_ROOT + f"allow_anonymous false\npassword_file {passwd}")


@pytest.mark.parametrize(("secret", "connects"), [
    ("s3cret pass\n", True),  # the trailing newline editors add is not part of it
    ("s3cret pass", True),
    ("wrong\n", False),
])
def test_password_file(
    auth_broker: MosquittoBroker, tmp_path: Path, publishers: Callable[..., Publisher],
    caplog: pytest.LogCaptureFixture, secret: str, connects: bool,
) -> None:
    (tmp_path / "pw").write_text(secret)
    cfg = agent_config(auth_broker, tmp_path / "q.db", new_station())
    cfg = structs.replace(cfg, broker=replace(cfg.broker, username="station1",
                                      password_file=tmp_path / "pw"))
    pub = publishers(cfg)
    if connects:
        wait_for(lambda: pub.connected, what="authenticated connection")
    else:
        wait_for(lambda: "refused" in caplog.text, what="refusal logged")
        assert not pub.connected and pub.healthy()  # keeps retrying with backoff
    assert secret.strip() not in caplog.text  # never logged


def test_unreadable_password_file_is_logged_and_retried(
    mosquitto: MosquittoBroker, tmp_path: Path, publishers: Callable[..., Publisher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = agent_config(mosquitto, tmp_path / "q.db", new_station())
    cfg = structs.replace(cfg, broker=replace(cfg.broker, username="u",
                                      password_file=tmp_path / "missing"))
    pub = publishers(cfg)
    wait_for(lambda: "cannot read broker password_file" in caplog.text, what="error logged")
    assert not pub.connected and pub.healthy()


EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")  # fast to generate


def _make_certs(d: Path) -> None:
    _run("openssl", "req", "-x509", *EC_KEY, "-nodes", "-days", "2",
         "-subj", "/CN=test-ca", "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt"))
    _run("openssl", "req", *EC_KEY, "-nodes", "-subj", "/CN=127.0.0.1",
         "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"))
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _run("openssl", "x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.crt"),
         "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2",
         "-extfile", str(d / "san.ext"), "-out", str(d / "server.crt"))


def test_tls_with_ca_file(
    tmp_path: Path, broker_factory: Callable[..., MosquittoBroker],
    publishers: Callable[..., Publisher],
) -> None:
    _make_certs(tmp_path)
    broker = broker_factory(extra_config=(STAY_ROOT + f"cafile {tmp_path / 'ca.crt'}\n"
                                          f"certfile {tmp_path / 'server.crt'}\n"
                                          f"keyfile {tmp_path / 'server.key'}"))
    cfg = agent_config(broker, tmp_path / "q.db", new_station())
    cfg = structs.replace(cfg, broker=replace(cfg.broker, tls=True, ca_file=tmp_path / "ca.crt",
                                      url=f"mqtts://127.0.0.1:{broker.port}"))
    pub = publishers(cfg)
    wait_for(lambda: pub.connected, what="TLS connection")
    assert pub.session == 1
