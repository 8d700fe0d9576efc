"""The HTTPS server context for /metrics, /api and the page (stdlib `ssl` only).

Loaded at start (and by check-config), so a wrong or mismatched PEM is refused
with the key to fix instead of failing at the first request. TLS 1.2 is the
floor, as on the broker's listener (deploy/mosquitto/mosquitto.conf); the
ciphers are Python's secure defaults for a server.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Literal

from collector.errors import CollectorError


class TlsFileError(CollectorError):
    """The certificate or key cannot be used; `key` names the config key to fix."""

    def __init__(self, key: Literal["tls_cert_file", "tls_key_file"], reason: str) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason


class _EncryptedKey(Exception):
    pass


def _refuse_passphrase() -> str:
    # Without a callback OpenSSL would prompt on the terminal, or hang under systemd.
    raise _EncryptedKey


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    _check_certificate(cert)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key, password=_refuse_passphrase)
    except _EncryptedKey:
        raise TlsFileError("tls_key_file", f'"{key}" is encrypted; give the service an '
                           "unencrypted key (openssl pkey -in KEY -out KEY.plain), mode 0600"
                           ) from None
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            reason = f'"{key}" is not the private key of the certificate in "{cert}"'
        else:
            reason = (f'no PEM private key found in "{key}"; expected -----BEGIN PRIVATE KEY----- '
                      "(or EC/RSA PRIVATE KEY)")
        raise TlsFileError("tls_key_file", reason) from None
    return context


def _check_certificate(cert: Path) -> None:
    """Tell a bad certificate from a bad key: OpenSSL says "PEM lib" for both."""
    try:
        ssl.create_default_context().load_verify_locations(cafile=cert)
    except ssl.SSLError:
        raise TlsFileError("tls_cert_file", f'no PEM certificate found in "{cert}"; '
                           "expected -----BEGIN CERTIFICATE-----") from None
