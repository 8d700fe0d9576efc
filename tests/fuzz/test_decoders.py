"""Hypothesis fuzzing of every wire decoder: only `Rejected`, never another exception.

Each case starts from a valid payload of one kind (tests/fuzz/samples.py) and
mutates it — a value replaced by junk (wrong type, huge or NaN number, odd
unicode, nested containers), a key deleted or added, then maybe truncated —
so the cases reach the deep validation paths rather than failing at byte 0.
The long seeded run over the same idea is `make fuzz` (tests/fuzz/run_fuzz.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pantau import wire
from tests.fuzz import samples
from tests.fuzz.mutator import HUGE, STRINGS

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

JSON_LEAVES = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80), st.floats(), st.sampled_from(HUGE),
    st.text(max_size=40), st.sampled_from(STRINGS), st.none(), st.booleans(),
)
JUNK = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=12,
)


def outcome(topic: str, payload: bytes) -> str:
    """'ok' or the rejection reason; any other exception propagates and fails the test."""
    try:
        parts, msg = wire.decode_message(topic, payload)
    except wire.Rejected as exc:
        assert exc.reason in wire.REJECT_REASONS
        return exc.reason
    assert isinstance(msg, type(samples.VALID[parts.kind]))
    if isinstance(msg, wire.Heartbeat | wire.Event):
        assert (msg.site, msg.station) == (parts.site, parts.station)
    return "ok"


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(wire.MESSAGE_KINDS))
    doc: Any = samples.valid_builtin(kind)
    for _ in range(draw(st.integers(1, 3))):
        paths = samples.node_paths(doc)
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "delete", "add"]))
        if op == "delete" and path:
            doc = samples.delete_at(doc, path)
        elif op == "add" and isinstance(doc, dict):
            doc[draw(st.sampled_from(["extra", "v", "site", "from", "ts"]))] = draw(JUNK)
        else:
            doc = samples.replace_at(doc, path, draw(JUNK))
    data = samples.to_json(doc, ascii_only=draw(st.booleans()))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return samples.valid_topic(kind), data


@pytest.mark.parametrize("kind", wire.MESSAGE_KINDS)
def test_the_unmutated_samples_decode(kind: wire.MessageKind) -> None:
    assert outcome(samples.valid_topic(kind), wire.encode(samples.VALID[kind])) == "ok"


@FUZZ
@given(mutated())
def test_mutated_payloads_are_decoded_or_rejected(case: tuple[str, bytes]) -> None:
    outcome(*case)


@FUZZ
@given(st.sampled_from(wire.MESSAGE_KINDS), st.binary(max_size=512))
def test_random_bytes_are_rejected_or_decoded(kind: wire.MessageKind, data: bytes) -> None:
    outcome(samples.valid_topic(kind), data)


@FUZZ
@given(st.sampled_from(wire.MESSAGE_KINDS), st.text(max_size=120))
def test_any_topic_with_a_valid_payload_is_decoded_or_rejected(
    kind: wire.MessageKind, topic: str
) -> None:
    outcome(topic, wire.encode(samples.VALID[kind]))


@pytest.mark.parametrize(("kind", "field", "value", "reason"), [
    ("heartbeat", "cpu_ratio", "NaN", "schema"),
    ("heartbeat", "seq", "12", "schema"),
    ("heartbeat", "seq", -1, "schema"),
    ("heartbeat", "v", 2, "version"),
    ("event", "to", "gone", "schema"),
    ("event", "station", "medan-baru-02", "mismatch"),
    ("status", "state", "ONLINE", "schema"),
    ("ack", "seq", 1.5, "schema"),
    ("command", "cmd", "x" * 300, "schema"),
])
def test_named_near_misses_get_the_named_reason(
    kind: wire.MessageKind, field: str, value: Any, reason: str
) -> None:
    doc = samples.valid_builtin(kind)
    target = doc["host"] if field == "cpu_ratio" else doc
    target[field] = value
    assert outcome(samples.valid_topic(kind), samples.to_json(doc)) == reason


@pytest.mark.parametrize("kind", wire.MESSAGE_KINDS)
def test_bare_nan_and_infinity_tokens_are_a_decode_error(kind: wire.MessageKind) -> None:
    doc = samples.valid_builtin(kind)
    doc["x"] = float("nan")  # json.dumps writes the bare token NaN: not JSON
    assert outcome(samples.valid_topic(kind), samples.to_json(doc)) == "decode"


@pytest.mark.parametrize("kind", wire.MESSAGE_KINDS)
def test_oversized_payload_is_rejected_before_parsing(kind: wire.MessageKind) -> None:
    data = wire.encode(samples.VALID[kind])
    padded = data + b" " * (wire.MAX_PAYLOAD_BYTES + 1 - len(data))
    assert outcome(samples.valid_topic(kind), padded) == "oversize"


@pytest.mark.parametrize("kind", wire.MESSAGE_KINDS)
def test_deeply_nested_unknown_field_is_rejected(kind: wire.MessageKind) -> None:
    doc = wire.encode(samples.VALID[kind])
    payload = doc[:-1] + b',"extra":' + samples.deep_nesting(1000) + b"}"
    assert len(payload) < 16 * 1024
    assert outcome(samples.valid_topic(kind), payload) == "decode"
