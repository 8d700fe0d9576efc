"""The `[broker]` table, read the same way by the agent and the collector.

`broker_section(sec, reader)` checks one `[broker]` table; `reader` names the
program that must read its files at run time ("the agent", "the collector"),
so a refusal points at the right service account.
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
    integer,
    nonempty_text,
    quoted,
    readable_file_for,
    seconds,
    text,
)

_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


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
    return {"url": raw, "host": parts.hostname, "port": port, "tls": parts.scheme == "mqtts"}


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
        "url": _broker_url, "client_id": nonempty_text, "username": nonempty_text,
        "password_file": readable, "ca_file": readable, "cert_file": readable,
        "key_file": readable, "keepalive_s": integer(5, 65535), "topic_root": topic_root,
        "connect_timeout_s": seconds(0, 600), "reconnect_min_s": seconds(0, 3600),
        "reconnect_max_s": seconds(0, 86400),
    }


def broker_fields(sec: Section, reader: str) -> dict[str, Any]:
    """The keys one file gives, as BrokerConfig fields: `url` expands into url/host/port/tls."""
    fields = sec.fields(broker_schema(reader))
    fields.update(fields.pop("url", {}))
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
