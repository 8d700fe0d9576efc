"""A real Mosquitto on a test copy of deploy/mosquitto (TLS, passwords, ACL).

The broker runs Debian's own /etc/mosquitto/mosquitto.conf with our file in
its conf.d, as docs/install-central.md installs it, so a setting the drop-in
repeats from the stock file fails here. Only paths, the port and the log
destination are rewritten in the copies; the CA and broker certificate come
from deploy/scripts/pantau-ca, the station accounts from
deploy/scripts/pantau-enroll-station.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from tests.deploy.binaries import REPO
from tests.support.mosquitto import MOSQUITTO, free_port, wait_for

SCRIPTS = REPO / "deploy" / "scripts"
CONF = REPO / "deploy" / "mosquitto"


# Debian 12's stock /etc/mosquitto/mosquitto.conf (package mosquitto), which our
# drop-in extends. A copy, because a machine's own file may be edited (this CI
# machine's is); tests/install checks the copy against a fresh install's file.
STOCK_CONF = Path(__file__).with_name("debian-mosquitto.conf")


def run_script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPTS / name), *args], capture_output=True, text=True,
                          timeout=30, check=False)


def add_account(passwd: Path, user: str, password: str) -> None:
    create = [] if passwd.exists() else ["-c"]
    subprocess.run(["mosquitto_passwd", *create, str(passwd), user],
                   input=f"{password}\n{password}\n", text=True, capture_output=True, check=True)


def rewrite(text: str, replacements: dict[str, str]) -> str:
    """Replace each key; one that is not there means the file changed under us."""
    for old, new in replacements.items():
        assert old in text, f"expected {old!r} in the config; update tests/deploy/tls_broker.py"
        text = text.replace(old, new)
    return text


def test_copy_of_stock_config(src: str, workdir: Path) -> str:
    return rewrite(src, {
        "/run/mosquitto/mosquitto.pid": f"{workdir}/mosquitto.pid",
        "/var/lib/mosquitto/": f"{workdir}/",
        "/var/log/mosquitto/mosquitto.log": f"{workdir}/mosquitto.log",
        "include_dir /etc/mosquitto/conf.d": f"include_dir {workdir}/conf.d",
    })


def test_copy_of_config(src: str, workdir: Path, port: int) -> str:
    text = rewrite(src, {"listener 8883": f"listener {port} 127.0.0.1",
                         "/etc/mosquitto/pantau/": f"{workdir}/"})
    # Started as root, Mosquitto drops to user "mosquitto", which cannot read
    # pytest's 0700 temp dirs. Ignored when the tests do not run as root.
    return text + "\nuser root\n"


test_copy_of_stock_config.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
test_copy_of_config.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


@dataclass
class TlsBroker:
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtts://127.0.0.1:{self.port}"

    @property
    def ca(self) -> Path:
        return self.workdir / "ca.crt"

    @property
    def passwd(self) -> Path:
        return self.workdir / "passwd"

    def prepare(self) -> TlsBroker:
        for args in (("init", str(self.workdir)),
                     ("server", str(self.workdir), "broker", "127.0.0.1")):
            result = run_script("pantau-ca", *args)
            assert result.returncode == 0, result.stderr
        (self.workdir / "acl").write_text((CONF / "acl").read_text())
        (self.workdir / "mosquitto.conf").write_text(
            test_copy_of_stock_config(STOCK_CONF.read_text(), self.workdir))
        (self.workdir / "conf.d").mkdir()
        (self.workdir / "conf.d" / "pantau.conf").write_text(
            test_copy_of_config((CONF / "mosquitto.conf").read_text(), self.workdir, self.port))
        return self

    def start(self) -> TlsBroker:
        with open(self.workdir / "mosquitto.stderr", "ab") as err:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.workdir / "mosquitto.conf")],
                                         stdout=err, stderr=err)
        wait_for(self._accepts, 10, what=f"TLS mosquitto on {self.port}")
        return self

    def _accepts(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            logs = [self.workdir / "mosquitto.stderr", self.workdir / "mosquitto.log"]
            text = "".join(p.read_text(errors="replace") for p in logs if p.exists())
            raise RuntimeError(f"mosquitto exited: {text[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def reload(self) -> None:
        """SIGHUP: Mosquitto rereads the password and ACL files."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGHUP)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: whatever the last autosave did not write is lost."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def set_drop_in(self, replacements: dict[str, str]) -> None:
        """Change settings of the drop-in copy (each must be there), before `start`."""
        path = self.workdir / "conf.d" / "pantau.conf"
        path.write_text(rewrite(path.read_text(), replacements))

    def station_account(self, name: str) -> str:
        """A password account for `name` and the [broker] lines of its agent.toml."""
        secret = f"{name}-secret"
        add_account(self.passwd, name, secret)
        password_file = self.workdir / f"{name}.password"
        password_file.write_text(secret)
        return (f'ca_file = "{self.ca}"\nusername = "{name}"\n'
                f'password_file = "{password_file}"\n')


class Endpoint(Protocol):
    """A TLS MQTT listener: this Mosquitto, or a NATS node (tests/support/nats_cluster.py)."""

    @property
    def ca(self) -> Path: ...
    @property
    def port(self) -> int: ...


class Client:
    """A plain paho client that records its CONNACK, messages and disconnects."""

    def __init__(self, broker: Endpoint, user: str | None, password: str | None,
                 client_id: str = "", clean_session: bool = True,
                 connack_timeout_s: float = 10.0) -> None:
        self.connack: ReasonCode | None = None
        self.disconnects = 0
        self.messages: list[mqtt.MQTTMessage] = []
        self.paho = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                protocol=mqtt.MQTTv311, clean_session=clean_session)
        self.paho.tls_set(ca_certs=str(broker.ca))
        if user is not None:
            self.paho.username_pw_set(user, password)
        self.paho.on_connect = self._on_connect
        self.paho.on_disconnect = self._on_disconnect
        self.paho.on_message = lambda _c, _u, msg: self.messages.append(msg)
        self.paho.connect_async("127.0.0.1", broker.port)
        self.paho.loop_start()
        try:
            wait_for(lambda: self.connack is not None, connack_timeout_s,
                     what=f"CONNACK for {user}")
        except AssertionError:
            self.close()  # no retries behind the test's back
            raise

    def _on_connect(self, _c: object, _u: object, _f: object, rc: ReasonCode,
                    _p: object) -> None:
        self.connack = rc
        if rc.is_failure:
            self.paho.disconnect()  # no retry: the test asserts on the refusal

    def _on_disconnect(self, *_args: object) -> None:
        self.disconnects += 1

    @property
    def accepted(self) -> bool:
        return self.connack is not None and not self.connack.is_failure

    def subscribe(self, topic: str) -> None:
        done: list[object] = []
        self.paho.on_subscribe = lambda *args: done.append(args)
        self.paho.subscribe(topic, qos=1)
        wait_for(lambda: done, 5, what=f"SUBACK for {topic}")

    def publish(self, topic: str, payload: bytes | str = b"x", retain: bool = False) -> None:
        self.paho.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def received(self, topic: str) -> list[bytes]:
        return [bytes(m.payload) for m in list(self.messages) if m.topic == topic]

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()
