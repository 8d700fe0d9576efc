"""The optional queue-health fields of `AgentInfo`: bounds, and older payloads unchanged."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from pantau import wire
from tests.fuzz import samples


def decode_with_agent(**fields: Any) -> wire.Heartbeat:
    doc = samples.valid_builtin("heartbeat")
    doc["agent"] = {"version": "0.1.0", "uptime_s": 5.0, **fields}
    _, msg = wire.decode_message(samples.valid_topic("heartbeat"), json.dumps(doc).encode())
    assert isinstance(msg, wire.Heartbeat)
    return msg


def test_an_older_agent_payload_decodes_and_encodes_byte_identical() -> None:
    hb = decode_with_agent()
    assert (hb.agent.queued_events, hb.agent.dropped_events, hb.agent.oldest_queued_ts) == (
        msgspec.UNSET, msgspec.UNSET, msgspec.UNSET)
    assert wire.encode(hb.agent) == b'{"version":"0.1.0","uptime_s":5.0}'


def test_queue_fields_round_trip() -> None:
    hb = decode_with_agent(queued_events=3, dropped_events=0, oldest_queued_ts=1.7e9)
    assert (hb.agent.queued_events, hb.agent.dropped_events, hb.agent.oldest_queued_ts) == (
        3, 0, 1.7e9)


@pytest.mark.parametrize("fields", [
    {"queued_events": -1}, {"dropped_events": -1}, {"queued_events": 2**53 + 1},
    {"dropped_events": 1.5}, {"queued_events": "3"}, {"oldest_queued_ts": "yesterday"},
], ids=repr)
def test_out_of_range_queue_fields_are_rejected_schema(fields: dict[str, Any]) -> None:
    with pytest.raises(wire.Rejected) as caught:
        decode_with_agent(**fields)
    assert caught.value.reason == "schema"
