"""The config core both programs build on: TOML files, `ConfigError`, typed field parsers.

Every refusal names file, dotted key and reason. A `Section` is one table of
one file plus the dotted path that leads to it (`components[2].match[0]`).
Field parsers take `(section, name)` and return the checked value or raise
`ConfigError`; schemas are plain dicts of them, which keeps "what keys exist"
and "what each one accepts" in one table.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pantau.wire import ID_PATTERN, is_valid_id

FieldParser = Callable[["Section", str], Any]
_HEX4 = re.compile(r"^[0-9a-fA-F]{4}$")
_TOML_POSITION = re.compile(r"^(.*) \(at (line \d+, column \d+|end of document)\)$")
ID_HINT = (
    f"an id matching {ID_PATTERN} (lowercase letters, digits, '-' and '_', at most 63 characters)"
)


class ConfigError(Exception):
    """A config a program refuses to start with; the message names file, key and reason."""

    def __init__(self, file: Path | str, key: str, reason: str) -> None:
        super().__init__(f"{file}: {key}: {reason}")
        self.file = str(file)
        self.key = key
        self.reason = reason


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML table of `path`; `ConfigError` says where and why it cannot be read."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        hint = "check the path and permissions"
        raise ConfigError(path, "file", f"cannot read ({reason}); {hint}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(path, "file", "not UTF-8 text; save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_POSITION.match(str(exc))
        where, what = (found.group(2), found.group(1)) if found else ("file", str(exc))
        raise ConfigError(path, where, f"invalid TOML: {what}") from None


def quoted(value: str) -> str:
    """`value` as a JSON string literal, for messages.

    json is imported here, when a refusal is worded, not at module load: a good
    config never needs it, and the running agent is ~0.2 MiB smaller without it.
    """
    import json

    return json.dumps(value)


@dataclass(frozen=True, slots=True)
class Section:
    data: Mapping[str, object]
    file: str
    prefix: str = ""  # dotted path of this table; "" for the top level
    base_dir: Path = Path(".")  # relative paths in the file resolve against its directory

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def error(self, name: str, reason: str) -> ConfigError:
        return ConfigError(self.file, self.key(name), reason)

    def check_keys(self, allowed: Mapping[str, object]) -> None:
        for name in self.data:
            if name not in allowed:
                raise self.error(name, f"unknown key; expected one of: {', '.join(allowed)}")

    def require(self, name: str, hint: str) -> None:
        if name not in self.data:
            raise self.error(name, f"missing; expected {hint}")

    def child(self, name: str) -> Section:
        value = self.data[name]
        if not isinstance(value, dict):
            raise self.error(name, f"expected a table [{self.key(name)}], got {describe(value)}")
        return Section(value, self.file, self.key(name), self.base_dir)

    def children(self, name: str, example: str) -> list[Section]:
        """An array of tables, each a Section keyed `name[i]`."""
        value = self.data[name]
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            reason = f"expected {example}, got {describe(value)}"
            raise self.error(name, reason)
        return [
            Section(item, self.file, f"{self.key(name)}[{i}]", self.base_dir)
            for i, item in enumerate(value)
        ]

    def fields(self, schema: Mapping[str, FieldParser]) -> dict[str, Any]:
        """The keys present in this table, each checked by its parser (partial on purpose)."""
        self.check_keys(schema)
        return {name: parse(self, name) for name, parse in schema.items() if name in self.data}


def describe(value: object) -> str:
    """How a TOML value looks to the person who wrote it, for 'got ...' in messages."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value}"
    if isinstance(value, str):
        return f"string {quoted(value)}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


# --- scalar parsers -------------------------------------------------------------

def text(sec: Section, name: str) -> str:
    value = sec.data[name]
    if not isinstance(value, str):
        raise sec.error(name, f"expected a string, got {describe(value)}")
    return value


def nonempty_text(sec: Section, name: str) -> str:
    value = text(sec, name)
    if not value.strip():
        raise sec.error(name, "expected a non-empty string, got an empty one")
    return value


def boolean(sec: Section, name: str) -> bool:
    value = sec.data[name]
    if not isinstance(value, bool):
        raise sec.error(name, f"expected true or false, got {describe(value)}")
    return value


def ident(sec: Section, name: str) -> str:
    value = sec.data[name]
    if not isinstance(value, str) or not is_valid_id(value):
        raise sec.error(name, f"expected {ID_HINT}, got {describe(value)}")
    return value


def hex_id(sec: Section, name: str) -> int:
    value = sec.data[name]
    if not isinstance(value, str) or not _HEX4.match(value):
        got = describe(value)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFFFF:
            got += f' (quote it: "{value:04x}")'
        raise sec.error(name, f'expected 4 hex digits like "05ba", got {got}')
    return int(value, 16)


def choice(*options: str) -> FieldParser:
    def parse(sec: Section, name: str) -> str:
        value = sec.data[name]
        if value not in options:
            shown = [quoted(o) for o in options]
            wanted = " or ".join(shown) if len(options) == 2 else f"one of {', '.join(shown)}"
            raise sec.error(name, f"expected {wanted}, got {describe(value)}")
        return str(value)

    return parse


def seconds(minimum: float = 0.0, maximum: float = 86400.0) -> FieldParser:
    """A duration in seconds, strictly above `minimum` and at most `maximum`."""

    def parse(sec: Section, name: str) -> float:
        value = sec.data[name]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not minimum < float(value) <= maximum:  # type: ignore[arg-type]
            raise sec.error(
                name, f"expected seconds > {minimum:g} and <= {maximum:g}, got {describe(value)}"
            )
        return float(value)  # type: ignore[arg-type]

    return parse


def integer(lo: int, hi: int | None = None) -> FieldParser:
    def parse(sec: Section, name: str) -> int:
        value = sec.data[name]
        ok = isinstance(value, int) and not isinstance(value, bool)
        if not ok or value < lo or (hi is not None and value > hi):  # type: ignore[operator]
            bound = f"from {lo} to {hi}" if hi is not None else f">= {lo}"
            raise sec.error(name, f"expected an integer {bound}, got {describe(value)}")
        return value  # type: ignore[return-value]

    return parse


def _items(sec: Section, name: str, wanted: str) -> list[object]:
    value = sec.data[name]
    if not isinstance(value, list):
        raise sec.error(name, f"expected {wanted}, got {describe(value)}")
    return value


def text_list(sec: Section, name: str) -> tuple[str, ...]:
    items = _items(sec, name, 'an array of non-empty strings like ["a", "b"]')
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item:
            raise sec.error(f"{name}[{i}]", f"expected a non-empty string, got {describe(item)}")
    return tuple(items)  # type: ignore[arg-type]


def int_list(lo: int, hi: int) -> FieldParser:
    def parse(sec: Section, name: str) -> tuple[int, ...]:
        items = _items(sec, name, f"an array of integers from {lo} to {hi}")
        for i, item in enumerate(items):
            if not isinstance(item, int) or isinstance(item, bool) or not lo <= item <= hi:
                wanted = f"expected an integer from {lo} to {hi}"
                raise sec.error(f"{name}[{i}]", f"{wanted}, got {describe(item)}")
        return tuple(items)  # type: ignore[arg-type]

    return parse


def path(sec: Section, name: str) -> Path:
    return sec.base_dir / Path(nonempty_text(sec, name)).expanduser()


def readable_file_for(reader: str) -> Callable[[Section, str], Path]:
    """A file `reader` must read at run time: refuse now rather than at first use."""

    def readable_file(sec: Section, name: str) -> Path:
        found = path(sec, name)
        try:
            with found.open("rb"):
                pass
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            wanted = f"expected an existing file {reader} can read"
            raise sec.error(name, f'cannot read "{found}" ({reason}); {wanted}') from None
        return found

    return readable_file


def parse_host_port(target: str) -> tuple[str, int]:
    """`host:port` or `[v6addr]:port` → (host, port); ValueError says what is wrong."""
    host, sep, port_text = target.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f'expected "host:port" like "10.0.0.5:443", got {quoted(target)}')
    return host, int(port_text)
