"""The contract's bounds: times in [2000-01-01, 2100-01-01) UTC, list lengths, each key
once per heartbeat, the three lists present. Every refusal is `schema`, with its text.

A station sends these values; the views downstream (pages, API, CSV, /metrics) rely on
them (tests/fuzz/test_pipeline.py drives them through every view).
"""

from __future__ import annotations

import copy
import typing
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from pantau import wire
from tests.fuzz import samples

FIRST_OK = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
FIRST_REFUSED = datetime(2100, 1, 1, tzinfo=UTC).timestamp()
# (kind, path to the field) for every time field of the wire.
TIME_FIELDS: list[tuple[wire.MessageKind, tuple[str | int, ...]]] = [
    ("heartbeat", ("ts",)), ("heartbeat", ("components", 0, "since")),
    ("heartbeat", ("host", "boot_time")), ("event", ("ts",)), ("status", ("ts",)),
]


def outcome(kind: wire.MessageKind, doc: Any) -> tuple[str, str]:
    try:
        wire.decode_message(samples.valid_topic(kind), msgspec.json.encode(doc))
    except wire.Rejected as exc:
        return exc.reason, exc.detail
    return "ok", ""


def with_value(kind: wire.MessageKind, path: tuple[str | int, ...], value: Any) -> Any:
    return samples.replace_at(samples.valid_builtin(kind), path, value)


def test_the_bounds_are_the_first_instants_of_2000_and_2100() -> None:
    assert (wire.TS_MIN, wire.TS_END) == (FIRST_OK, FIRST_REFUSED)


@pytest.mark.parametrize(("kind", "path"), TIME_FIELDS)
@pytest.mark.parametrize(("value", "reason"), [
    (FIRST_OK, "ok"), (FIRST_REFUSED - 0.001, "ok"), (1.7e9, "ok"),
    (FIRST_OK - 0.001, "schema"), (FIRST_REFUSED, "schema"), (0, "schema"), (-1.0, "schema"),
    (1.7e12, "schema"),  # milliseconds for seconds: the mistake that blanked the fleet page
    (1e308, "schema"),
])
def test_every_time_field_is_bounded(
    kind: wire.MessageKind, path: tuple[str | int, ...], value: float, reason: str
) -> None:
    assert outcome(kind, with_value(kind, path, value))[0] == reason


def test_a_refused_time_names_the_field_and_the_bound() -> None:
    doc = with_value("heartbeat", ("components", 0, "since"), 1.7e12)
    assert outcome("heartbeat", doc) == (
        "schema", "heartbeat: Expected `float` < 4102444800.0 - at `$.components[0].since`")


def _time_like(name: str) -> bool:
    return name in ("ts", "since") or name.endswith(("_ts", "_time"))


def _structs() -> list[type[msgspec.Struct]]:
    found: list[type[msgspec.Struct]] = []
    todo: list[Any] = list(typing.get_args(wire.Payload))
    while todo:
        tp = todo.pop()
        if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
            if tp not in found:
                found.append(tp)
                todo += [f.type for f in msgspec.structs.fields(tp)]
        else:
            todo += typing.get_args(tp)
    return found


def test_every_time_field_of_every_struct_is_a_wire_timestamp() -> None:
    # A time field added later (`oldest_queued_ts`, ...) must use wire.Timestamp too.
    fields = [(s.__name__, f) for s in _structs() for f in msgspec.structs.fields(s)
              if _time_like(f.name)]
    assert {(s, f.name) for s, f in fields} >= {
        ("Heartbeat", "ts"), ("Component", "since"), ("Host", "boot_time"), ("Event", "ts"),
        ("Status", "ts")}
    for struct, f in fields:
        types = typing.get_args(f.type) if typing.get_origin(f.type) is not typing.Annotated \
            else (f.type,)
        assert wire.Timestamp in types or f.type == wire.Timestamp, (struct, f.name, f.type)


def many(item: dict[str, Any], n: int, key: str) -> list[dict[str, Any]]:
    return [{**copy.deepcopy(item), key: f"x{i}"} for i in range(n)]


@pytest.mark.parametrize(("path", "key", "bound"), [
    (("components",), "id", wire.MAX_COMPONENTS), (("checks",), "id", wire.MAX_CHECKS),
    (("unexpected",), "port", wire.MAX_UNEXPECTED), (("host", "disks"), "mount", wire.MAX_DISKS),
])
def test_list_lengths_are_bounded(path: tuple[str, ...], key: str, bound: int) -> None:
    doc = samples.valid_builtin("heartbeat")
    parent = doc if len(path) == 1 else doc[path[0]]
    first = parent[path[-1]][0]
    parent[path[-1]] = many(first, bound, key)
    assert outcome("heartbeat", doc) == ("ok", "")
    parent[path[-1]] = many(first, bound + 1, key)
    where = ".".join(path)
    assert outcome("heartbeat", doc) == (
        "schema", f"heartbeat: Expected `array` of length <= {bound} - at `$.{where}`")


@pytest.mark.parametrize(("path", "key", "what"), [
    (("components",), "id", "component id"), (("checks",), "id", "check id"),
    (("host", "disks"), "mount", "disk mount"),
])
def test_a_key_twice_in_one_heartbeat_is_refused(
    path: tuple[str, ...], key: str, what: str
) -> None:
    doc = samples.valid_builtin("heartbeat")
    parent = doc if len(path) == 1 else doc[path[0]]
    items = parent[path[-1]]
    parent[path[-1]] = [*items, {**copy.deepcopy(items[0]), "detail": "again"}
                        if key == "id" else {**items[0], "free_bytes": 1}]
    twice = items[0][key]
    assert outcome("heartbeat", doc) == (
        "schema", f"heartbeat: {what} {twice!r} appears more than once")


def test_the_same_id_as_component_and_check_is_fine() -> None:
    doc = samples.valid_builtin("heartbeat")
    doc["checks"][0]["id"] = doc["components"][0]["id"]
    assert outcome("heartbeat", doc) == ("ok", "")


@pytest.mark.parametrize("key", ["components", "checks", "unexpected"])
def test_the_three_lists_must_be_present_and_may_be_empty(key: str) -> None:
    doc = samples.valid_builtin("heartbeat")
    doc[key] = []
    assert outcome("heartbeat", doc) == ("ok", "")
    del doc[key]
    assert outcome("heartbeat", doc) == (
        "schema", f"heartbeat: Object missing required field `{key}`")


@pytest.mark.parametrize(("kind", "path"), [
    ("heartbeat", ("seq",)), ("event", ("seq",)), ("event", ("oldest_pending",)),
    ("status", ("session",)), ("ack", ("seq",)),
])
def test_sequence_numbers_fit_an_sqlite_integer(
    kind: wire.MessageKind, path: tuple[str, ...]
) -> None:
    assert outcome(kind, with_value(kind, path, 2**63 - 1)) == ("ok", "")
    assert outcome(kind, with_value(kind, path, 2**63))[0] == "schema"
