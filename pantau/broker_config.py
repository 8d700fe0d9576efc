"""The `[broker]` table, read the same way by the agent and the collector.

`broker_section(sec, reader)` checks one `[broker]` table; `reader` names the
program that must read its files at run time ("the agent", "the collector"),
so a refusal points at the right service account.

`url` names one broker; `urls` lists the nodes of a clustered broker, tried in
order (pantau.failover). The first node fills `url`/`host`/`port`, so code that
only logs or shows "the broker" keeps working; `endpoints` gives them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pantau.config import (
    ConfigError,
    FieldParser,
    Section,
    describe,
    integer,
    nonempty_text,
    quoted,
    readable_file_for,
    seconds,
    text,
)

_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True, slots=True)
class BrokerEndpoint:
    """One broker node: its URL as written, and where to connect."""

    url: str
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    url: str = "mqtt://127.0.0.1:1883"
    host: str = "127.0.0.1"
    port: int = 1883
    tls: bool = False
    client_id: str | None = None  # None: each program has its own default
    username: str | None = None
    password_file: Path | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive_s: int = 30
    topic_root: str = "pantau"
    connect_timeout_s: float = 10.0
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    fallbacks: tuple[BrokerEndpoint, ...] = ()  # the nodes after the first, in `urls` order

    @property
    def endpoints(self) -> tuple[BrokerEndpoint, ...]:
        """Every node, the first (`url`) first."""
        return (BrokerEndpoint(self.url, self.host, self.port), *self.fallbacks)


_DEFAULTS = BrokerConfig()


def _broker_url(sec: Section, name: str) -> dict[str, Any]:
    raw = text(sec, name)
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise sec.error(name, _broker_url_wanted(raw)) from None
    extra = parts.path not in ("", "/") or parts.query or parts.fragment or parts.username
    # "mqtt://host:" parses with port None: refuse it rather than guess the default.
    empty_port = parts.netloc.endswith(":")
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or extra or empty_port:
        raise sec.error(name, _broker_url_wanted(raw))
    port = port or _DEFAULT_PORTS[parts.scheme]
    # `fallbacks` is reset too: a station file's `url` replaces a profile's `urls` whole.
    return {"url": raw, "host": parts.hostname, "port": port, "tls": parts.scheme == "mqtts",
            "fallbacks": ()}


_URLS_WANTED = 'an array of broker URLs like ["mqtts://mqtt-1:8883", "mqtts://mqtt-2:8883"]'


def _broker_urls(sec: Section, name: str) -> dict[str, Any]:
    value = sec.data[name]
    if not isinstance(value, list) or not value:
        got = "an empty array" if isinstance(value, list) else describe(value)
        raise sec.error(name, f"expected {_URLS_WANTED}, got {got}")
    keys = [f"{name}[{i}]" for i in range(len(value))]
    nodes = [_broker_url(Section({k: v}, sec.file, sec.prefix), k)
             for k, v in zip(keys, value, strict=True)]
    first = nodes[0]
    for i, node in enumerate(nodes[1:], start=1):
        if node["tls"] != first["tls"]:
            scheme = "mqtts" if first["tls"] else "mqtt"
            # One TLS set-up serves every node, so a list cannot mix the two.
            raise sec.error(keys[i], f"expected {scheme}://host:port like {keys[0]} (all nodes "
                            f"TLS or none), got {quoted(node['url'])}")
        seen = [n["url"] for n in nodes[:i]]
        if node["url"] in seen:
            also = keys[seen.index(node["url"])]
            raise sec.error(keys[i], f"{quoted(node['url'])} is listed twice (also {also}); "
                            "list each node once")
    first["fallbacks"] = tuple(BrokerEndpoint(n["url"], n["host"], n["port"]) for n in nodes[1:])
    return first


def _broker_url_wanted(raw: str) -> str:
    return f"expected mqtt://host:port or mqtts://host:port, got {quoted(raw)}"


def topic_root(sec: Section, name: str) -> str:
    value = nonempty_text(sec, name)
    if any(c in value for c in "+#\0") or value.startswith("/") or value.endswith("/"):
        wanted = 'expected a topic prefix like "pantau" (no +, #, leading or trailing /)'
        raise sec.error(name, f"{wanted}, got {quoted(value)}")
    return value


def broker_schema(reader: str) -> dict[str, FieldParser]:
    """The keys of `[broker]`; files must be readable by `reader` (e.g. "the agent")."""
    readable = readable_file_for(reader)
    return {
        "url": _broker_url, "urls": _broker_urls,
        "client_id": nonempty_text, "username": nonempty_text,
        "password_file": readable, "ca_file": readable, "cert_file": readable,
        "key_file": readable, "keepalive_s": integer(5, 65535), "topic_root": topic_root,
        "connect_timeout_s": seconds(0, 600), "reconnect_min_s": seconds(0, 3600),
        "reconnect_max_s": seconds(0, 86400),
    }


def broker_fields(sec: Section, reader: str) -> dict[str, Any]:
    """The keys one file gives, as BrokerConfig fields: `url` or `urls` expands into
    url/host/port/tls/fallbacks."""
    if "url" in sec.data and "urls" in sec.data:
        raise sec.error("urls", "set together with url in the same file; keep one: url for "
                        "a single broker, urls to list every node of a cluster")
    fields = sec.fields(broker_schema(reader))
    fields.update(fields.pop("url", {}))
    fields.update(fields.pop("urls", {}))
    return fields


def build_broker(fields: Mapping[str, Any], file: str, prefix: str) -> BrokerConfig:
    """A BrokerConfig from merged fields, with the checks that need several keys."""

    def error(name: str, reason: str) -> ConfigError:
        return ConfigError(file, f"{prefix}.{name}", reason)

    if ("cert_file" in fields) != ("key_file" in fields):
        missing = "key_file" if "cert_file" in fields else "cert_file"
        raise error(missing, "missing; a client certificate needs both cert_file and key_file")
    tls_files = [n for n in ("ca_file", "cert_file", "key_file") if n in fields]
    if tls_files and not fields.get("tls", False):
        raise error(tls_files[0], "set but the url is not mqtts:// (no TLS); use mqtts://host:port")
    low = fields.get("reconnect_min_s", _DEFAULTS.reconnect_min_s)
    high = fields.get("reconnect_max_s", _DEFAULTS.reconnect_max_s)
    if low > high:
        raise error("reconnect_max_s", f"expected at least reconnect_min_s ({low:g}), got {high:g}")
    return BrokerConfig(**fields)


def parse_broker(
    table: Mapping[str, object], file: str, reader: str, key_prefix: str = "broker"
) -> BrokerConfig:
    """One whole `[broker]` table (no merging) as `reader` will use it."""
    sec = Section(table, file, key_prefix, Path(file).parent)
    return build_broker(broker_fields(sec, reader), file, key_prefix)
