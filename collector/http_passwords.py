"""Password hashes for HTTP basic auth: `scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>` (stdlib only).

Prometheus' exporter-toolkit uses bcrypt; the standard library has no bcrypt
but has scrypt (memory-hard, RFC 7914), so the users file holds scrypt hashes
made by `pantau-collector hash-password`. The cost parameters travel in each
line, so raising them later needs no format change.

Nothing here logs, and no message repeats a hash or a line of the users file:
a person who typed `user:password` there must not find the password in a log.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

SCHEME: Final = "scrypt"
# 2**15 x 8: 32 MiB and ~0.1 s per hash on one core. Verified hashes are cached
# (collector/http_auth.py), so a scrape pays it once, not every 15 s.
DEFAULT_N: Final = 2**15
DEFAULT_R: Final = 8
DEFAULT_P: Final = 1
SALT_BYTES: Final = 16
HASH_BYTES: Final = 32
MAX_MEMORY: Final = 256 * 1024 * 1024  # refuse hashes whose check would need more
FORMAT_HINT: Final = (
    'expected "user:scrypt$N$r$p$salt$hash"; make a line with: pantau-collector hash-password USER'
)
_USER: Final = re.compile(r"^[^\s:]{1,64}$")  # RFC 7617: a user-id has no ':'


class PasswordFormatError(ValueError):
    """A hash or users-file line that cannot be used; the text never quotes the secret."""


@dataclass(frozen=True, slots=True)
class ScryptHash:
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    def verify(self, password: bytes) -> bool:
        """Recompute and compare in constant time (CPU-heavy: call off the event loop)."""
        computed = _scrypt(password, self.salt, self.n, self.r, self.p, len(self.digest))
        return hmac.compare_digest(computed, self.digest)

    def __repr__(self) -> str:  # keep the digest out of any repr that reaches a log
        return f"ScryptHash(n={self.n}, r={self.r}, p={self.p})"


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int, size: int) -> bytes:
    # OpenSSL needs a little over 128*n*r*p bytes; its 32 MiB default is too tight.
    maxmem = 128 * r * (n + p + 2) + 1024 * 1024
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=size)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, n: int = DEFAULT_N, salt: bytes | None = None) -> str:
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = _scrypt(password.encode(), salt, n, DEFAULT_R, DEFAULT_P, HASH_BYTES)
    return f"{SCHEME}${n}${DEFAULT_R}${DEFAULT_P}${_b64(salt)}${_b64(digest)}"


def users_line(user: str, password: str, *, n: int = DEFAULT_N) -> str:
    """The `user:hash` line for the users file; ValueError says what is wrong with the input."""
    if not _USER.match(user):
        raise ValueError("a user name is 1 to 64 characters without spaces or ':'")
    if not password:
        raise ValueError("the password is empty")
    return f"{user}:{hash_password(password, n=n)}"


def parse_hash(text: str) -> ScryptHash:
    parts = text.split("$")
    if parts[0] != SCHEME:
        # The text is not quoted back: it may be a password typed where the hash belongs.
        raise PasswordFormatError('unknown hash scheme: the hash must start with "scrypt$" '
                                  "(bcrypt and other htpasswd hashes are not supported)")
    if len(parts) != 6:
        raise PasswordFormatError(f"a scrypt hash has 6 '$'-separated fields, not {len(parts)}")
    n, r, p = (_int(name, v) for name, v in zip(("N", "r", "p"), parts[1:4], strict=True))
    if n < 2 or n & (n - 1) or 128 * n * r * p > MAX_MEMORY:
        raise PasswordFormatError("scrypt N must be a power of 2 and N*r*p*128 at most 256 MiB")
    salt, digest = _bytes("salt", parts[4]), _bytes("hash", parts[5])
    if len(digest) < 16:
        raise PasswordFormatError("the scrypt hash is shorter than 16 bytes")
    return ScryptHash(n, r, p, salt, digest)


def _int(name: str, text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 2**24:
        raise PasswordFormatError(f"scrypt {name} must be a whole number from 1 to {2**24}")
    return int(text)


def _bytes(name: str, text: str) -> bytes:
    try:
        value = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise PasswordFormatError(f"the scrypt {name} is not valid base64") from None
    if not value:
        raise PasswordFormatError(f"the scrypt {name} is empty")
    return value


def parse_users(text: str) -> Mapping[str, ScryptHash]:
    """`user:hash` lines; blank lines and `#` comments skipped. Errors name the line number."""
    users: dict[str, ScryptHash] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        try:
            if not sep or not _USER.match(user):
                raise PasswordFormatError(FORMAT_HINT)
            if user in users:
                raise PasswordFormatError(f'user "{user}" appears twice')
            users[user] = parse_hash(hashed)
        except PasswordFormatError as exc:
            raise PasswordFormatError(f"line {number}: {exc}") from None
    if not users:
        raise PasswordFormatError(f"no users in the file; {FORMAT_HINT}")
    return users
