"""Certificates for the HTTPS tests, made by the shipped deploy/scripts/pantau-ca (openssl).

Besides the good pair: a second server's key (mismatch), an encrypted copy of
the key and a file that is not PEM, for the refusal table.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.deploy.tls_broker import run_script


@dataclass(frozen=True)
class Pki:
    dir: Path

    @property
    def ca(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def cert(self) -> Path:
        return self.dir / "collector.crt"

    @property
    def key(self) -> Path:
        return self.dir / "collector.key"

    @property
    def other_key(self) -> Path:
        return self.dir / "other.key"

    @property
    def encrypted_key(self) -> Path:
        return self.dir / "encrypted.key"

    @property
    def not_pem(self) -> Path:
        return self.dir / "not.pem"


def make_pki(directory: Path) -> Pki:
    pki = Pki(directory)
    for args in (("init", str(directory)), ("server", str(directory), "collector", "127.0.0.1"),
                 ("server", str(directory), "other", "127.0.0.1")):
        result = run_script("pantau-ca", *args)
        assert result.returncode == 0, result.stderr
    subprocess.run(["openssl", "pkey", "-in", str(pki.key), "-aes256", "-passout", "pass:x",
                    "-out", str(pki.encrypted_key)], check=True, capture_output=True)
    pki.not_pem.write_text("this is not a PEM file\n")
    return pki
