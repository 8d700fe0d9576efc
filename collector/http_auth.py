"""HTTP basic auth for every route but the exempt ones (default: /healthz).

- Passwords are checked against scrypt hashes (collector/http_passwords.py)
  by a HashGate (collector/http_hash_gate.py): one at a time, on a
  low-priority thread of its own, within a CPU budget, so a flood of bad
  logins cannot take the CPU MQTT ingest needs. When too many logins wait
  already, a login is answered 429 with Retry-After at once.
- A verified (user, password) is remembered in a bounded LRU keyed by an
  HMAC under a per-process random key, so Prometheus' scrape every 15 s costs
  one HMAC, not one scrypt; the password itself is never kept.
- An unknown user is checked against a dummy hash of the same cost, so the
  answer time does not tell which user names exist.
- Failures are logged at most once a minute as counts by reason and source
  address, never with the user name or password that was tried.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Final

from aiohttp import hdrs, web

from collector.http_hash_gate import HashGate
from collector.http_passwords import DEFAULT_N, DEFAULT_P, DEFAULT_R, HASH_BYTES, ScryptHash

log = logging.getLogger(__name__)

REALM: Final = "pantau"
CHALLENGE: Final = {hdrs.WWW_AUTHENTICATE: f'Basic realm="{REALM}"'}
CACHE_SIZE: Final = 256
RETRY_AFTER_S: Final = 5
FAILURE_LOG_INTERVAL_S: Final = 60.0
_MAX_REMOTES_SHOWN: Final = 5
BUSY: Final = "too many logins waiting"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The user whose password the request carried: set for every authenticated request,
# read by the routes that write (and log who wrote).
USER_KEY: Final = web.RequestKey("pantau_user", str)


class FailureLog:
    """Counts refused requests; logs a summary at most once per `interval_s`."""

    def __init__(self, interval_s: float = FAILURE_LOG_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._interval_s, self._clock = interval_s, clock
        self._logged_at: float | None = None
        self._reasons: Counter[str] = Counter()
        self._remotes: Counter[str] = Counter()
        self.total = 0

    def record(self, reason: str, remote: str | None) -> None:
        self.total += 1
        self._reasons[reason] += 1
        self._remotes[remote or "unknown"] += 1
        now = self._clock()
        if self._logged_at is None or now - self._logged_at >= self._interval_s:
            self._emit(now)

    def _emit(self, now: float) -> None:
        reasons = ", ".join(f"{name}: {count}" for name, count in sorted(self._reasons.items()))
        remotes = ", ".join(r for r, _ in self._remotes.most_common(_MAX_REMOTES_SHOWN))
        since = "" if self._logged_at is None else f" in the last {now - self._logged_at:.0f} s"
        # A browser's first request never carries credentials: that alone is no alarm.
        level = logging.INFO if set(self._reasons) == {"no credentials"} else logging.WARNING
        log.log(level, "HTTP basic auth refused %d request(s)%s (%s) from %s",
                sum(self._reasons.values()), since, reasons, remotes)
        self._logged_at = now
        self._reasons.clear()
        self._remotes.clear()


def parse_basic(header: str | None) -> tuple[str, bytes] | str:
    """(user, password) from an Authorization header, or the reason it is unusable."""
    if header is None:
        return "no credentials"
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return "not basic auth"
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
        user, sep, password = decoded.partition(b":")
        if not sep:
            return "malformed credentials"
        return user.decode("utf-8"), password
    except (binascii.Error, UnicodeDecodeError):
        return "malformed credentials"


class BasicAuth:
    def __init__(self, users: Mapping[str, ScryptHash], exempt: Iterable[str], *,
                 cache_size: int = CACHE_SIZE, failures: FailureLog | None = None,
                 gate: HashGate | None = None) -> None:
        self._users = dict(users)
        self._exempt = frozenset(exempt)
        self._cache: OrderedDict[bytes, None] = OrderedDict()
        self._cache_size = cache_size
        self._cache_key = os.urandom(32)
        self._dummy = _dummy_like(next(iter(self._users.values()), None))
        self.gate = gate or HashGate()
        self.failures = failures or FailureLog()
        self.hashes_computed = 0  # scrypt runs: lets tests see the cache at work

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in self._exempt:
            return await handler(request)
        header = request.headers.get(hdrs.AUTHORIZATION)
        refused = await self.check(header)
        if refused == BUSY:
            self.failures.record(refused, request.remote)
            raise web.HTTPTooManyRequests(headers={hdrs.RETRY_AFTER: str(RETRY_AFTER_S)},
                                          text="too many logins at once; try again later\n")
        if refused is not None:
            self.failures.record(refused, request.remote)
            raise web.HTTPUnauthorized(headers=CHALLENGE)
        credentials = parse_basic(header)
        if isinstance(credentials, tuple):  # always, once check() accepted the header
            request[USER_KEY] = credentials[0]
        return await handler(request)

    async def check(self, header: str | None) -> str | None:
        """None when the header carries a valid user and password, else why not."""
        credentials = parse_basic(header)
        if isinstance(credentials, str):
            return credentials
        user, password = credentials
        key = hmac.new(self._cache_key, user.encode() + b"\0" + password, hashlib.sha256).digest()
        if key in self._cache:
            self._cache.move_to_end(key)
            return None
        stored = self._users.get(user)
        ok = await self.gate.verify(stored or self._dummy, password)
        if ok is None:
            return BUSY
        self.hashes_computed += 1
        if stored is None:
            return "unknown user"
        if not ok:
            return "wrong password"
        self._remember(key)
        return None

    def _remember(self, key: bytes) -> None:
        self._cache[key] = None
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def close(self) -> None:
        self.gate.close()


def _dummy_like(example: ScryptHash | None) -> ScryptHash:
    """A hash no password matches (random digest), as costly to check as a real one."""
    n, r, p = (example.n, example.r, example.p) if example else (DEFAULT_N, DEFAULT_R, DEFAULT_P)
    return ScryptHash(n, r, p, os.urandom(16), os.urandom(HASH_BYTES))


def install_basic_auth(app: web.Application, users: Mapping[str, ScryptHash],
                       exempt: Iterable[str]) -> BasicAuth | None:
    """Guard every route of `app` but `exempt`; no users (no users file): nothing to do."""
    if not users:
        return None
    auth = BasicAuth(users, exempt)
    app.middlewares.append(auth.middleware)

    async def close(_app: web.Application) -> None:
        auth.close()

    app.on_cleanup.append(close)
    log.info("HTTP basic auth on for %d user(s); open without it: %s",
             len(users), ", ".join(sorted(exempt)) or "nothing")
    return auth
