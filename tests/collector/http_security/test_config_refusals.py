"""Every bad [http] security setting is refused at start with file, key and reason.

Driven through the real command line (`check-config` in process, `run` as a
subprocess once) so the exact line a person sees is what is asserted.
"""

from __future__ import annotations

import re
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from collector.cli import main
from collector.config import CliOverrides, load_collector_config
from collector.http_passwords import FORMAT_HINT, users_line
from collector.http_tls import server_context
from tests.collector.http_security.pki import Pki

REPO = Path(__file__).resolve().parents[3]
PAIR_HINT = ("missing; tls_cert_file and tls_key_file go together: set both for HTTPS, "
             "or neither for plain HTTP")
SCHEME_HINT = ('unknown hash scheme: the hash must start with "scrypt$" '
               "(bcrypt and other htpasswd hashes are not supported)")

GOOD_LINE = users_line("ok", "pw", n=1024)


def cannot_read(path: str, why: str) -> str:
    return f'cannot read "{path}" ({why}); expected an existing file the collector can read'


# (name, [http] lines, key, reason); {crt} {key} {other} {enc} {bad} {dir} {users} are filled in.
CASES = [
    ("cert without key", 'tls_cert_file = "{crt}"', "tls_key_file", PAIR_HINT),
    ("key without cert", 'tls_key_file = "{key}"', "tls_cert_file", PAIR_HINT),
    ("missing cert", 'tls_cert_file = "{dir}/nope.crt"\ntls_key_file = "{key}"',
     "tls_cert_file", cannot_read("{dir}/nope.crt", "No such file or directory")),
    ("key is a directory", 'tls_cert_file = "{crt}"\ntls_key_file = "{dir}"',
     "tls_key_file", cannot_read("{dir}", "Is a directory")),
    ("cert not PEM", 'tls_cert_file = "{bad}"\ntls_key_file = "{key}"', "tls_cert_file",
     'no PEM certificate found in "{bad}"; expected -----BEGIN CERTIFICATE-----'),
    ("key given as cert", 'tls_cert_file = "{key}"\ntls_key_file = "{crt}"', "tls_cert_file",
     'no PEM certificate found in "{key}"; expected -----BEGIN CERTIFICATE-----'),
    ("key not PEM", 'tls_cert_file = "{crt}"\ntls_key_file = "{bad}"', "tls_key_file",
     'no PEM private key found in "{bad}"; expected -----BEGIN PRIVATE KEY----- '
     "(or EC/RSA PRIVATE KEY)"),
    ("key of another cert", 'tls_cert_file = "{crt}"\ntls_key_file = "{other}"', "tls_key_file",
     '"{other}" is not the private key of the certificate in "{crt}"'),
    ("encrypted key", 'tls_cert_file = "{crt}"\ntls_key_file = "{enc}"', "tls_key_file",
     '"{enc}" is encrypted; give the service an unencrypted key '
     "(openssl pkey -in KEY -out KEY.plain), mode 0600"),
    ("missing users file", 'basic_auth_users_file = "{dir}/users"', "basic_auth_users_file",
     cannot_read("{dir}/users", "No such file or directory")),
    ("malformed users line",
     f"basic_auth_users_file = \"{{users}}\"\n#users: {GOOD_LINE}\n#users: prometheus\n",
     "basic_auth_users_file", f'"{{users}}" line 2: {FORMAT_HINT}'),
    ("unknown hash scheme", "basic_auth_users_file = \"{users}\"\n#users: prom:$2y$10$abc\n",
     "basic_auth_users_file", f'"{{users}}" line 1: {SCHEME_HINT}'),
    ("empty users file", "basic_auth_users_file = \"{users}\"\n#users: # none yet\n",
     "basic_auth_users_file", f'"{{users}}" no users in the file; {FORMAT_HINT}'),
    ("exempt not a list", 'auth_exempt = "/healthz"', "auth_exempt",
     'expected an array of paths like ["/healthz"], got string "/healthz"'),
    ("exempt without slash", 'auth_exempt = ["/healthz", "readyz"]', "auth_exempt[1]",
     'expected a path starting with "/" like "/healthz", got string "readyz"'),
    ("unknown key", 'tls_ca_file = "{crt}"', "tls_ca_file",
     "unknown key; expected one of: listen, tls_cert_file, tls_key_file, "
     "basic_auth_users_file, auth_exempt"),
]


def write_config(pki: Pki, tmp_path: Path, lines: str) -> Path:
    """collector.toml with `lines` in [http]; a `#users:` line becomes a users-file line."""
    values = {"crt": pki.cert, "key": pki.key, "other": pki.other_key, "enc": pki.encrypted_key,
              "bad": pki.not_pem, "dir": tmp_path, "users": tmp_path / "users"}
    toml, users = [], []
    for line in lines.format(**values).splitlines():
        if line.startswith("#users: "):
            users.append(line.removeprefix("#users: "))
        elif line:
            toml.append(line)
    if users or "{users}" in lines:
        (tmp_path / "users").write_text("".join(u + "\n" for u in users))
    config = tmp_path / "collector.toml"
    config.write_text("[http]\n" + "\n".join(toml) + "\n")
    return config


def expected(pki: Pki, tmp_path: Path, config: Path, key: str, reason: str) -> str:
    reason = reason.format(crt=pki.cert, key=pki.key, other=pki.other_key,
                           enc=pki.encrypted_key, bad=pki.not_pem, dir=tmp_path,
                           users=tmp_path / "users")
    return f"pantau-collector: configuration refused: {config}: http.{key}: {reason}\n"


@pytest.mark.parametrize(("lines", "key", "reason"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_check_config_refuses(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              lines: str, key: str, reason: str) -> None:
    config = write_config(pki, tmp_path, lines)
    assert main(["check-config", "--config", str(config)]) == 2
    assert capsys.readouterr().err == expected(pki, tmp_path, config, key, reason)


def test_run_refuses_a_bad_pem_before_serving(pki: Pki, tmp_path: Path) -> None:
    config = write_config(pki, tmp_path, 'tls_cert_file = "{crt}"\ntls_key_file = "{bad}"')
    result = subprocess.run([sys.executable, "-m", "collector.cli", "run", "--config", str(config),
                             "--data-dir", str(tmp_path / "data")],
                            cwd=REPO, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    reason = ('no PEM private key found in "{bad}"; expected -----BEGIN PRIVATE KEY----- '
              "(or EC/RSA PRIVATE KEY)")
    assert result.stderr == expected(pki, tmp_path, config, "tls_key_file", reason)


def test_a_good_config_loads_paths_users_and_the_default_exemption(
        pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "users").write_text(users_line("prometheus", "pw", n=1024) + "\n")
    config = tmp_path / "collector.toml"
    config.write_text(f'[http]\nlisten = "0.0.0.0:9621"\ntls_cert_file = "{pki.cert}"\n'
                      f'tls_key_file = "{pki.key}"\nbasic_auth_users_file = "users"\n')
    http = load_collector_config(config, CliOverrides()).http
    assert (http.url, http.tls_key_file, http.auth_exempt) == (
        "https://0.0.0.0:9621", pki.key, ("/healthz",))
    assert http.basic_auth_users_file == tmp_path / "users"  # relative to the config file
    assert [user for user, _ in http.users] == ["prometheus"]
    assert "scrypt" not in repr(http)
    assert main(["check-config", "--config", str(config)]) == 0
    assert capsys.readouterr().out.endswith(": ok (0 stations in the registry)\n")


def test_the_server_context_floors_at_tls_1_2(pki: Pki) -> None:
    # Debian's OpenSSL refuses TLS 1.1 anyway; the floor is ours too, for other platforms.
    context = server_context(pki.cert, pki.key)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert not context.check_hostname and context.verify_mode == ssl.CERT_NONE  # no client certs


def test_the_commented_example_settings_work_when_uncommented(pki: Pki, tmp_path: Path) -> None:
    (tmp_path / "users").write_text(users_line("prometheus", "pw", n=1024) + "\n")
    text = (REPO / "deploy" / "collector.example.toml").read_text()
    for key, value in (("tls_cert_file", pki.cert), ("tls_key_file", pki.key),
                       ("basic_auth_users_file", tmp_path / "users")):
        text, count = re.subn(rf'^# {key} = ".*"$', f'{key} = "{value}"', text, flags=re.M)
        assert count == 1, key
    (tmp_path / "collector.toml").write_text(text)
    http = load_collector_config(tmp_path / "collector.toml", CliOverrides()).http
    assert http.url == "https://127.0.0.1:9620"
    assert (len(http.users), http.auth_exempt) == (1, ("/healthz",))
