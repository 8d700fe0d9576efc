"""The collector's `[http]` table: listen address, HTTPS files, basic-auth users.

Like the exporter-toolkit web config of Prometheus exporters, but in the one
TOML file. Everything a request will need is read and checked here, at start
and by check-config: the certificate and key load into a real SSL context,
the users file parses, so a mistake is refused with file, key and reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from collector.http_passwords import PasswordFormatError, ScryptHash, parse_users
from collector.http_tls import TlsFileError, server_context
from pantau.config import (
    FieldParser,
    Section,
    describe,
    parse_host_port,
    readable_file_for,
)

DEFAULT_HTTP_PORT: Final = 9620
# /healthz only says "the process serves"; a load balancer probes it without a
# password. /readyz stays protected: its reason text tells the broker state.
DEFAULT_AUTH_EXEMPT: Final = ("/healthz",)


@dataclass(frozen=True, slots=True)
class HttpConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_HTTP_PORT
    tls_cert_file: Path | None = None  # both or neither
    tls_key_file: Path | None = None
    basic_auth_users_file: Path | None = None
    # (user, hash) pairs from that file; empty: no authentication. Not in repr (no hash in logs).
    users: tuple[tuple[str, ScryptHash], ...] = field(default=(), repr=False)
    auth_exempt: tuple[str, ...] = DEFAULT_AUTH_EXEMPT

    @property
    def tls(self) -> bool:
        return self.tls_cert_file is not None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"


def listen(sec: Section, name: str) -> tuple[str, int]:
    value = sec.data[name]
    try:
        return parse_host_port(value if isinstance(value, str) else "")
    except ValueError:
        raise sec.error(name, f'expected "host:port" like "127.0.0.1:{DEFAULT_HTTP_PORT}", '
                              f"got {describe(value)}") from None


readable_file = readable_file_for("the collector")


def url_paths(sec: Section, name: str) -> tuple[str, ...]:
    value = sec.data[name]
    if not isinstance(value, list):
        wanted = 'an array of paths like ["/healthz"]'
        raise sec.error(name, f"expected {wanted}, got {describe(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.startswith("/"):
            raise sec.error(f"{name}[{i}]", f'expected a path starting with "/" like "/healthz", '
                                            f"got {describe(item)}")
    return tuple(value)


SCHEMA: Final[dict[str, FieldParser]] = {
    "listen": listen, "tls_cert_file": readable_file, "tls_key_file": readable_file,
    "basic_auth_users_file": readable_file, "auth_exempt": url_paths,
}


def parse_http(sec: Section, listen_flag: str | None) -> HttpConfig:
    """`sec` is the [http] table (empty if absent); `listen_flag` is --listen."""
    fields: dict[str, Any] = sec.fields(SCHEMA)
    host, port = fields.get("listen", ("127.0.0.1", DEFAULT_HTTP_PORT))
    if listen_flag is not None:
        host, port = listen(Section({"--listen": listen_flag}, "command line"), "--listen")
    cert, key = fields.get("tls_cert_file"), fields.get("tls_key_file")
    _check_tls(sec, cert, key)
    users_file = fields.get("basic_auth_users_file")
    users = _users(sec, users_file) if users_file is not None else ()
    return HttpConfig(host, port, cert, key, users_file, users,
                      fields.get("auth_exempt", DEFAULT_AUTH_EXEMPT))


def _check_tls(sec: Section, cert: Path | None, key: Path | None) -> None:
    if (cert is None) != (key is None):
        missing = "tls_key_file" if key is None else "tls_cert_file"
        raise sec.error(missing, "missing; tls_cert_file and tls_key_file go together: "
                                 "set both for HTTPS, or neither for plain HTTP")
    if cert is None or key is None:
        return
    try:
        server_context(cert, key)  # loaded for real, then dropped: serve() loads its own
    except TlsFileError as exc:
        raise sec.error(exc.key, exc.reason) from None


def _users(sec: Section, users_file: Path) -> tuple[tuple[str, ScryptHash], ...]:
    name = "basic_auth_users_file"
    try:
        text = users_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise sec.error(name, f'cannot read "{users_file}" ({reason})') from None
    try:
        return tuple(parse_users(text).items())
    except PasswordFormatError as exc:
        raise sec.error(name, f'"{users_file}" {exc}') from None
