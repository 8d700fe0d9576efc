"""`parse_topic` (one regex on the hot path) accepts and refuses exactly as the
step-by-step parse it replaced, with the same reasons."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pantau import wire


def reference_parse(topic: str, root: str) -> tuple[str, ...]:
    """The parse before the regex shortcut: ('ok', site, station, kind) or (reason,)."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != root:
        return ("topic",)
    if parts[1] != "v1":
        return ("version",)
    _, _, site, station, kind = parts
    if not (wire.is_valid_id(site) and wire.is_valid_id(station)):
        return ("topic",)
    if kind not in wire.MESSAGE_KINDS:
        return ("topic",)
    return ("ok", site, station, kind)


def parse(topic: str, root: str) -> tuple[str, ...]:
    try:
        parts = wire.parse_topic(topic, root)
    except wire.Rejected as exc:
        return (exc.reason,)
    return ("ok", parts.site, parts.station, parts.kind)


@pytest.mark.parametrize("topic", [
    "pantau/v1/medan/st-01/heartbeat", "pantau/v1/medan/st-01/ack", "pantau/v2/medan/st-01/event",
    "pantau/v1/Medan/st-01/status", "pantau/v1/medan/st-01/heartbeat/x", "pantau/v1/medan/st-01",
    "pantau/v1/medan/st-01/heartbeat\n", "pantau/v1/medan\n/st-01/event", "pantau/v1//st-01/event",
    "other/v1/medan/st-01/event", "pantau/v1/medan/st-01/HEARTBEAT",
    "pantau/v1/m/" + "s" * 64 + "/ack",
    "pantau/v1/m/" + "s" * 63 + "/ack", "pantau/v1/-m/st/ack", "pantau/v1/m/st/statusx",
])
@pytest.mark.parametrize("root", ["pantau", "a.b", "a/b", "x+y", "pantau/v1"])
def test_table_of_topics_and_roots(topic: str, root: str) -> None:
    moved = topic.replace("pantau", root, 1)
    assert parse(topic, root) == reference_parse(topic, root)
    assert parse(moved, root) == reference_parse(moved, root)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["pantau", "v1", "v2", "medan", "st-01", "heartbeat", "event",
                                 "", "A", "a" * 64, "x\n", "+", "#"]), max_size=7),
       st.sampled_from(["pantau", "a/b", "p.q"]))
def test_any_topic_gets_the_reference_outcome(pieces: list[str], root: str) -> None:
    topic = "/".join(pieces)
    assert parse(topic, root) == reference_parse(topic, root)


def test_the_parts_read_like_before() -> None:
    parts = wire.parse_topic("pantau/v1/medan/st-01/event")
    assert (parts.site, parts.station, parts.kind) == ("medan", "st-01", "event")


SHARDS = [
    ((), ["pantau/v1/+/+/status", "pantau/v1/+/+/event"]),
    (("medan-baru", "binjai-kota"), ["pantau/v1/medan-baru/+/status",
                                     "pantau/v1/medan-baru/+/event",
                                     "pantau/v1/binjai-kota/+/status",
                                     "pantau/v1/binjai-kota/+/event"]),
]


@pytest.mark.parametrize(("sites", "filters"), SHARDS, ids=["all-sites", "two-sites"])
def test_a_sharded_collector_subscribes_to_its_sites_only(sites: tuple[str, ...],
                                                          filters: list[str]) -> None:
    """Collector `sites` (docs/scaling.md): a shard's broker traffic is its sites' alone."""
    assert wire.subscription_filters(("status", "event"), sites) == filters
