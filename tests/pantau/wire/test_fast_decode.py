"""The fast decoders accept and refuse exactly what the pattern-checking ones did.

`wire.decode` skips msgspec's per-string regex (the costliest part of a
heartbeat) and checks ids afterwards, falling back to strict mirror types to
name a rejection (both in `pantau.wire`). Two things keep that honest:
- the strict mirrors have the very schema the wire contract had before the
  change (golden JSON Schema generated from the pattern-annotated types);
- for ids of every shape in every id field, `decode_message` gives the same
  outcome (accepted, or the same reason and text) as the old strict decode.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pantau import deferred_patterns, wire
from tests.fuzz import samples

GOLDEN = Path(__file__).with_name("golden") / "wire_schema.json"

# Ids that msgspec's `Meta(pattern=...)` accepts or refuses, including its
# quirk that `$` also matches before a final newline (which the decoder refuses
# for ids inside the payload; site/station are compared with the topic).
ID_VALUES = [
    "fingerprint", "a", "0", "a" * 63, "a" * 64, "", "-a", "_a", "Fingerprint", "finger print",
    "finger.print", "id\n", "id\n\n", "\nid", "ïd", "05ba", "05BA", "05b", "05baa", "0x5b",
    "05ba\n", "x" * 300,
]
# (path into the valid JSON document, kind) of every field typed Id or HexId.
ID_FIELDS: list[tuple[wire.MessageKind, tuple[str | int, ...]]] = [
    ("heartbeat", ("site",)), ("heartbeat", ("station",)),
    ("heartbeat", ("components", 0, "id")),
    ("heartbeat", ("components", 0, "device", "vid")),
    ("heartbeat", ("components", 0, "device", "pid")),
    ("heartbeat", ("components", 1, "expected", 0, "vid")),
    ("heartbeat", ("components", 1, "expected", 0, "pid")),
    ("heartbeat", ("checks", 0, "id")),
    ("heartbeat", ("unexpected", 0, "vid")), ("heartbeat", ("unexpected", 0, "pid")),
    ("event", ("site",)), ("event", ("station",)), ("event", ("component",)),
]


def reference_decode_message(topic: str, payload: bytes) -> tuple[str, str]:
    """The decode path as it was before the fast checks: strict types only."""
    parts = wire.parse_topic(topic)
    if len(payload) > wire.MAX_PAYLOAD_BYTES:
        return ("oversize", "")
    try:
        msg = wire._strict_decoder(parts.kind).decode(payload)
    except msgspec.ValidationError as exc:
        version = _version(payload)
        if version is not None and version != wire.PROTOCOL_VERSION:
            return ("version", f"{parts.kind} has v={version!r}, this side speaks v1")
        return ("schema", f"{parts.kind}: {exc}")
    except msgspec.DecodeError as exc:
        return ("decode", f"{parts.kind}: {exc}")
    if getattr(msg, "v", 1) != wire.PROTOCOL_VERSION:
        return ("version", f"{parts.kind} has v={msg.v}, this side speaks v1")
    if any(i.endswith("\n") for i in _inner_ids(msg)):
        return ("schema", f"{parts.kind}: an id or USB id does not match "
                          f"{wire.ID_PATTERN} exactly (a trailing newline?)")
    if hasattr(msg, "station") and (msg.site, msg.station) != (parts.site, parts.station):
        return ("mismatch", f"payload says {msg.site}/{msg.station} but topic says "
                            f"{parts.site}/{parts.station}")
    return ("ok", "")


def _inner_ids(msg: Any) -> list[str]:
    """Every Id / HexId inside a payload except its site and station (the strict
    mirror types are classes of their own, hence attribute checks)."""
    if hasattr(msg, "component"):
        return [msg.component]
    if not hasattr(msg, "components"):
        return []
    ids = [c.id for c in msg.components] + [c.id for c in msg.checks]
    devices = [c.device for c in msg.components if c.device is not None] + list(msg.unexpected)
    devices += [u for c in msg.components if isinstance(c.expected, list) for u in c.expected]
    return ids + [d.vid for d in devices] + [d.pid for d in devices]


def _version(payload: bytes) -> object:
    try:
        return wire._version_decoder().decode(payload).v
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def fast_decode_message(topic: str, payload: bytes) -> tuple[str, str]:
    try:
        wire.decode_message(topic, payload)
    except wire.Rejected as exc:
        return (exc.reason, "" if exc.reason == "oversize" else exc.detail)
    return ("ok", "")


def with_value(kind: wire.MessageKind, path: tuple[str | int, ...], value: Any) -> bytes:
    doc = samples.valid_builtin(kind)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(doc).encode()


def test_strict_mirrors_have_the_wire_schema_of_the_golden_file() -> None:
    kinds = wire.MESSAGE_KINDS
    types = [wire._strict_decoder(k).type for k in kinds]
    _, defs = msgspec.json.schema_components(types)
    text = json.dumps(defs, sort_keys=True).replace("Strict", "")
    mirror = json.loads(text)
    golden = json.loads(GOLDEN.read_text())
    for schema in golden.values():
        schema.pop("description", None)  # docstrings are not part of the wire
    assert mirror == golden


@pytest.mark.parametrize(("kind", "path"), ID_FIELDS)
@pytest.mark.parametrize("value", ID_VALUES)
def test_every_id_field_gets_the_same_outcome_as_the_strict_decoder(
    kind: wire.MessageKind, path: tuple[str | int, ...], value: str
) -> None:
    topic, payload = samples.valid_topic(kind), with_value(kind, path, value)
    assert fast_decode_message(topic, payload) == reference_decode_message(topic, payload)


@pytest.mark.parametrize(("value", "reason"), [
    ("medan-baru-01", "ok"), ("medan-baru-02", "mismatch"), ("Medan", "schema"),
    ("medan-baru-01\n", "mismatch"),  # the pattern lets it pass; it is not the topic's
])
def test_payload_station_is_checked_against_the_topic(value: str, reason: str) -> None:
    topic = samples.valid_topic("heartbeat")
    payload = with_value("heartbeat", ("station",), value)
    assert fast_decode_message(topic, payload)[0] == reason


def _bad_component(doc: dict[str, Any]) -> None:
    doc["components"][0]["id"] = "BAD"


def _v2_bad_station(doc: dict[str, Any]) -> None:
    doc.update(v=2, station="BAD")


def _bad_component_other_station(doc: dict[str, Any]) -> None:
    doc["components"][0]["id"] = "BAD"
    doc["station"] = "other"


@pytest.mark.parametrize(("edit", "truncate", "reason"), [
    # The strict decoder meets the bad id before the truncation: schema, not decode.
    (_bad_component, True, "schema"),
    (_v2_bad_station, False, "version"),
    (_v2_bad_station, True, "schema"),  # the version cannot be read from a broken document
    (_bad_component_other_station, False, "schema"),
])
def test_several_faults_get_the_reason_the_strict_decoder_gives(
    edit: Any, truncate: bool, reason: str
) -> None:
    doc = samples.valid_builtin("heartbeat")
    edit(doc)
    payload = json.dumps(doc).encode()
    payload = payload[:-40] if truncate else payload
    topic = samples.valid_topic("heartbeat")
    assert fast_decode_message(topic, payload) == reference_decode_message(topic, payload)
    assert fast_decode_message(topic, payload)[0] == reason


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(ID_FIELDS), st.text(max_size=70), st.booleans())
def test_any_text_in_any_id_field_gets_the_same_outcome(
    field: tuple[wire.MessageKind, tuple[str | int, ...]], value: str, truncate: bool
) -> None:
    kind, path = field
    topic, payload = samples.valid_topic(kind), with_value(kind, path, value)
    payload = payload[: len(payload) // 2] if truncate else payload
    assert fast_decode_message(topic, payload) == reference_decode_message(topic, payload)


def test_the_known_id_cache_stays_bounded() -> None:
    for i in range(deferred_patterns.KNOWN_CAP + 10):
        payload = with_value("event", ("component",), f"c{i}")
        wire.decode_message(samples.valid_topic("event"), payload)
    assert len(wire._KNOWN_IDS.seen) <= deferred_patterns.KNOWN_CAP
