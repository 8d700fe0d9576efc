"""What each config table may hold, and how checked fields become config objects.

Tables are read as *partial* field dicts (only the keys a file gives), so a
station file can override single keys of a profile; the merged dicts are then
turned into the frozen dataclasses of `agent.config`, with the cross-field
checks that need the whole picture.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from agent.config import (
    USB_SPEED_ORDER,
    BrokerConfig,
    CheckSpec,
    ComponentSpec,
    ConfigError,
    UsbMatch,
)
from agent.config_parse import (
    FieldParser,
    Section,
    boolean,
    choice,
    hex_id,
    ident,
    int_list,
    integer,
    nonempty_text,
    parse_host_port,
    path,
    quoted,
    readable_file,
    seconds,
    text,
    text_list,
)

MATCH_EXAMPLE = '[{vid = "05ba", pid = "000a"}]'
MATCHES_HINT = f"an array of tables like {MATCH_EXAMPLE}"
_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
_BROKER_DEFAULTS = BrokerConfig()


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


def _topic_root(sec: Section, name: str) -> str:
    value = nonempty_text(sec, name)
    if any(c in value for c in "+#\0") or value.startswith("/") or value.endswith("/"):
        wanted = 'expected a topic prefix like "pantau" (no +, #, leading or trailing /)'
        raise sec.error(name, f"{wanted}, got {quoted(value)}")
    return value


BROKER: dict[str, FieldParser] = {
    "url": _broker_url, "client_id": nonempty_text, "username": nonempty_text,
    "password_file": readable_file, "ca_file": readable_file, "cert_file": readable_file,
    "key_file": readable_file, "keepalive_s": integer(5, 65535), "topic_root": _topic_root,
    "connect_timeout_s": seconds(0, 600), "reconnect_min_s": seconds(0, 3600),
    "reconnect_max_s": seconds(0, 86400),
}
INTERVALS: dict[str, FieldParser] = {
    "heartbeat_s": seconds(0, 86400), "poll_s": seconds(0, 3600), "host_s": seconds(0, 86400),
}
HOST: dict[str, FieldParser] = {"enabled": boolean, "mounts": text_list}
QUEUE: dict[str, FieldParser] = {
    "path": path, "max_age_s": seconds(0, 365 * 86400), "max_bytes": integer(4096),
}
MATCH: dict[str, FieldParser] = {"vid": hex_id, "pid": hex_id, "serial": nonempty_text}


def _matches(sec: Section, name: str) -> tuple[UsbMatch, ...]:
    found = []
    for item in sec.children(name, MATCHES_HINT):
        fields = item.fields(MATCH)
        item.require("vid", 'the vendor id as 4 hex digits, like vid = "05ba"')
        item.require("pid", 'the product id as 4 hex digits, like pid = "000a"')
        found.append(UsbMatch(**fields))
    return tuple(found)


USB: dict[str, FieldParser] = {
    "debounce_polls": integer(1, 1000), "flap_changes": integer(2, 1000),
    "flap_window_s": seconds(0, 86400), "allow": _matches, "allow_classes": int_list(0, 255),
}
COMPONENT: dict[str, FieldParser] = {
    "id": ident, "kind": choice("usb", "display"), "required": boolean, "description": text,
    "match": _matches, "count": integer(1, 64), "min_speed": choice(*USB_SPEED_ORDER),
    "active_check": choice("none", "control"), "health_command": text_list,
    "health_timeout_s": seconds(0, 600), "connector": nonempty_text,
}
CHECK: dict[str, FieldParser] = {
    "id": ident, "kind": choice("tcp", "http"), "target": nonempty_text,
    "timeout_s": seconds(0, 60), "expect_status": integer(100, 599),
}
SECTIONS: dict[str, dict[str, FieldParser]] = {
    "broker": BROKER, "intervals": INTERVALS, "usb": USB, "host": HOST, "queue": QUEUE,
}
_USB_ONLY = ("match", "min_speed", "active_check", "health_command")


@dataclass(slots=True)
class Entry:
    """One [[components]] or [[checks]] table, its checked fields and where it was last set."""

    id: str
    fields: dict[str, Any]
    file: str
    key: str

    def error(self, name: str, reason: str) -> ConfigError:
        return ConfigError(self.file, f"{self.key}.{name}", reason)


def read_entries(sec: Section, name: str, schema: Mapping[str, FieldParser]) -> list[Entry]:
    """An array of id-keyed tables; ids must be unique within one file."""
    entries: dict[str, Entry] = {}
    for item in sec.children(name, f"[[{name}]] tables, each with an id"):
        fields = item.fields(schema)
        item.require("id", ID_EXAMPLE[name])
        first = entries.get(fields["id"])
        if first is not None:
            reason = f'duplicate id "{fields["id"]}" (also {first.key}); each id must be unique'
            raise item.error("id", reason)
        entries[fields["id"]] = Entry(fields["id"], fields, item.file, item.prefix)
    return list(entries.values())


ID_EXAMPLE = {
    "components": 'a role id like id = "fingerprint"',
    "checks": 'a check id like id = "enrollment-server"',
}


def build_component(entry: Entry) -> ComponentSpec:
    fields = entry.fields
    if "kind" not in fields:
        reason = 'missing; expected "usb" or "display" (only overrides of a profile may omit it)'
        raise entry.error("kind", reason)
    if fields["kind"] == "usb" and not fields.get("match"):
        reason = f"a usb component needs at least one device, like match = {MATCH_EXAMPLE}"
        raise entry.error("match", reason)
    if fields["kind"] == "display":
        for name in _USB_ONLY:
            if name in fields:
                raise entry.error(name, 'only for kind = "usb"; a display is matched by connector')
    return ComponentSpec(**fields)


def build_check(entry: Entry) -> CheckSpec:
    fields = entry.fields
    for name, hint in (("kind", '"tcp" or "http"'), ("target", 'a target like "10.0.0.5:443" or "http://10.0.0.5/health"')):
        if name not in fields:
            raise entry.error(name, f"missing; expected {hint}")
    if fields["kind"] == "tcp":
        try:
            parse_host_port(fields["target"])
        except ValueError as exc:
            raise entry.error("target", str(exc)) from None
    elif not _is_http_url(fields["target"]):
        wanted = 'expected a URL like "http://10.0.0.5:8080/health"'
        raise entry.error("target", f'{wanted}, got {quoted(fields["target"])}')
    if fields["kind"] == "tcp" and "expect_status" in fields:
        raise entry.error("expect_status", 'only for kind = "http"')
    return CheckSpec(**fields)


def _is_http_url(target: str) -> bool:
    try:
        parts = urlsplit(target)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def build_broker(fields: Mapping[str, Any], file: str, prefix: str) -> BrokerConfig:
    def error(name: str, reason: str) -> ConfigError:
        return ConfigError(file, f"{prefix}.{name}", reason)

    if ("cert_file" in fields) != ("key_file" in fields):
        missing = "key_file" if "cert_file" in fields else "cert_file"
        raise error(missing, "missing; a client certificate needs both cert_file and key_file")
    tls_files = [n for n in ("ca_file", "cert_file", "key_file") if n in fields]
    if tls_files and not fields.get("tls", False):
        raise error(tls_files[0], "set but the url is not mqtts:// (no TLS); use mqtts://host:port")
    low = fields.get("reconnect_min_s", _BROKER_DEFAULTS.reconnect_min_s)
    high = fields.get("reconnect_max_s", _BROKER_DEFAULTS.reconnect_max_s)
    if low > high:
        raise error("reconnect_max_s", f"expected at least reconnect_min_s ({low:g}), got {high:g}")
    return BrokerConfig(**fields)


def read_broker_fields(sec: Section) -> dict[str, Any]:
    """Broker keys as dataclass fields: `url` expands into url/host/port/tls."""
    fields = sec.fields(BROKER)
    fields.update(fields.pop("url", {}))
    return fields
