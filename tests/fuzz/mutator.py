"""A seeded generator of near-valid (topic, payload) pairs for the long fuzz run.

Plain `random.Random` instead of hypothesis: a million payloads in minutes
needs microseconds per case, and a seed reproduces any crash exactly.
Each case starts from a valid payload and applies one to three mutations
(structure, value, then maybe bytes), so most cases get deep into decoding.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Final

from pantau import wire
from tests.fuzz import samples

HUGE: Final[tuple[Any, ...]] = (
    2**63, -(2**63) - 1, 2**64, 10**30, -(10**400), 1e308, -1e308, 5e-324,
    float("nan"), float("inf"), float("-inf"),
)
STRINGS: Final[tuple[str, ...]] = (
    "", "NaN", "inf", "-Infinity", "1e999", "null", "true", "0x10", "\x00", "\ud800",
    "\U0001f4a9" * 50, "\u202e" + "evil", "a" * 70, "a" * 5000, "medan-baru-02", "A/B",
    "pantau/v1/+/#", "ok ", "OK",
)


def junk_value(rng: random.Random) -> Any:
    pick = rng.randrange(8)
    if pick == 0:
        return rng.choice(HUGE)
    if pick == 1:
        return rng.choice(STRINGS)
    if pick == 2:
        return rng.choice([None, True, False, 0, -1, 1, 0.5, -0.0])
    if pick == 3:
        return [junk_value(rng) for _ in range(rng.randrange(4))]
    if pick == 4:
        return {rng.choice(["v", "x", "from", "seq", ""]): junk_value(rng)}
    if pick == 5:
        return rng.randint(-(2**70), 2**70)
    if pick == 6:
        return rng.uniform(-1e12, 1e12)
    return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(1, 20)))


def _replace(doc: Any, rng: random.Random) -> Any:
    return samples.replace_at(doc, rng.choice(samples.node_paths(doc)), junk_value(rng))


def _delete(doc: Any, rng: random.Random) -> Any:
    paths = [p for p in samples.node_paths(doc) if p]
    return samples.delete_at(doc, rng.choice(paths)) if paths else doc


def _add_key(doc: Any, rng: random.Random) -> Any:
    dicts = [p for p in samples.node_paths(doc) if isinstance(_at(doc, p), dict)]
    if dicts:
        _at(doc, rng.choice(dicts))[rng.choice(["extra", "v", "site", "ts"])] = junk_value(rng)
    return doc


def _grow_list(doc: Any, rng: random.Random) -> Any:
    lists = [p for p in samples.node_paths(doc) if isinstance(_at(doc, p), list) and _at(doc, p)]
    if lists:
        items = _at(doc, rng.choice(lists))
        items.extend([items[0]] * rng.choice([1, 255, 256, 300, 2000]))
    return doc


def _at(doc: Any, path: samples.Path) -> Any:
    for step in path:
        doc = doc[step]
    return doc


STRUCTURAL: Final[tuple[Callable[[Any, random.Random], Any], ...]] = (
    _replace, _replace, _replace, _delete, _add_key, _grow_list,
)


def _bytes_mutation(data: bytes, rng: random.Random) -> bytes:
    pick = rng.randrange(7)
    if pick == 0:
        return data[: rng.randrange(len(data) + 1)]  # truncated
    if pick == 1 and data:
        i = rng.randrange(len(data))
        return data[:i] + bytes([rng.randrange(256)]) + data[i + 1:]
    if pick == 2:
        return data + b" " * (wire.MAX_PAYLOAD_BYTES - len(data) + rng.choice([0, 1]))
    if pick == 3:
        return samples.deep_nesting(rng.choice([50, 1000, 100_000]), rng.choice("[{"), "]")
    if pick == 4:
        return data.replace(b'"', b"'", 1)
    if pick == 5:
        return b"\xef\xbb\xbf" + data  # BOM
    return bytes(rng.randrange(256) for _ in range(rng.randrange(64)))


def _topic(kind: wire.MessageKind, rng: random.Random) -> str:
    pick = rng.randrange(20)
    if pick == 0:
        return wire.topic_for(samples.SITE, "medan-baru-02", kind)  # payload/topic mismatch
    if pick == 1:
        return rng.choice(["", "pantau", "pantau/v2/a/b/status", "pantau/v1/A/b/event",
                           "pantau/v1/a/b/c/status", "pantau/v1/+/#/event", "x/v1/a/b/ack",
                           "pantau/v1/a/b/acks", "pantau/v1/a/\x00/status", "/" * 300])
    return samples.valid_topic(kind)


def mutated_payload(doc: Any, rng: random.Random) -> bytes:
    """`doc` (a valid JSON-shaped message) with none to three structural mutations,
    as JSON, then maybe mangled as bytes."""
    for _ in range(rng.randrange(4)):
        doc = rng.choice(STRUCTURAL)(doc, rng)
    data = samples.to_json(doc, ascii_only=rng.random() < 0.7)
    if rng.random() < 0.3:
        data = _bytes_mutation(data, rng)
    return data


def mutated_message(rng: random.Random) -> tuple[str, bytes]:
    """One fuzz case: a topic and a payload derived from a valid message of a random kind."""
    kind = rng.choice(wire.MESSAGE_KINDS)
    data = mutated_payload(samples.valid_builtin(kind), rng)
    return _topic(kind, rng), data
