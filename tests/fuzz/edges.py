"""Seeded station messages for the whole-pipeline fuzz (tests/fuzz/pipeline.py).

Two sorts, from a handful of stations (registered, planned and unknown ones), so
the fleet holds many stations at once:
- edge: messages with values at the contract's edges, mostly just inside them — the
  first and last instants of the time bound, full lists (64 components, checks and
  unexpected devices, 32 disks), the longest strings with markup, formulas, line
  breaks and odd unicode, the largest numbers the types allow — and sometimes just
  outside (a seq of 2^64 - 1, a time in milliseconds), which the wire must refuse;
- mutated: the same messages with mutator.py's structural and byte mutations (wrong
  types, keys dropped or added, lists grown past their bounds, truncated JSON).
"""

from __future__ import annotations

import math
import random
from typing import Any, Final

from pantau import wire
from tests.fuzz import samples
from tests.fuzz.mutator import mutated_payload

STATIONS: Final = (  # (site, station): in tests/collector/http/fleet.toml, planned, or not
    ("medan-baru", "medan-baru-01"), ("medan-baru", "medan-baru-02"),
    ("medan-baru", "medan-baru-03"), ("medan-kota", "medan-kota-01"),
    ("binjai-utara", "binjai-utara-01"), ("lain", "stray-01"), ("x" * 63, "y" * 63),
)
KINDS: Final[tuple[wire.MessageKind, ...]] = ("heartbeat", "heartbeat", "event", "status")
TIMES: Final = (wire.TS_MIN, math.nextafter(wire.TS_END, 0.0), 1.7e9, 1_732_900_000.0)
OUTSIDE: Final = (1.7e12, math.nextafter(wire.TS_MIN, 0.0), wire.TS_END)  # refused times
HOSTILE: Final = (
    '<script>alert("x")</script>', '=HYPERLINK("http://evil.example")', "line\nbreak\r\n",
    '"quoted", comma; semi', "\u202eevil", "\U0001f4a9", "\\", "\x00", "\u2028", "-1", "",
)
BIG: Final = (0, 2**63 - 1)  # the largest seq the wire takes
HUGE: Final = (*BIG, 2**64 - 1)  # the largest int JSON decoding takes (a seq: refused)
FLOATS: Final = (0.0, -0.0, 5e-324, 1.7976931348623157e308, -1.7976931348623157e308, 1e-300)


def when(rng: random.Random) -> float:
    """A time inside the bound, or (one in 20) just outside it."""
    return rng.choice(OUTSIDE if rng.random() < 0.05 else TIMES)


def seq(rng: random.Random, *more: int) -> int:
    return rng.choice(HUGE if rng.random() < 0.05 else (*BIG, *more))


def text(rng: random.Random, size: int) -> str:
    """Up to `size` characters of hostile text (a whole `size` half of the time)."""
    bits = "".join(rng.choice(HOSTILE) for _ in range(8))
    return (bits * (size // max(1, len(bits)) + 1))[:size] if rng.random() < 0.5 else bits[:size]


def ident(rng: random.Random, n: int) -> str:
    return rng.choice([f"c{n}", f"{n:x}" + "z" * 61, f"x-{n}_"])[:63]


def hexid(rng: random.Random) -> str:
    return rng.choice(["0000", "ffff", "05ba", "0781"])


def device(rng: random.Random) -> dict[str, Any]:
    return {"vid": hexid(rng), "pid": hexid(rng), "serial": text(rng, 256),
            "bus": rng.choice(HUGE), "port": text(rng, 256), "speed": text(rng, 256),
            "manufacturer": text(rng, 256), "product": text(rng, 256)}


def component(rng: random.Random, n: int) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": ident(rng, n), "kind": text(rng, 256), "required": rng.random() < 0.5,
        "status": rng.choice(wire.COMPONENT_STATUSES), "since": when(rng),
        "detail": text(rng, 1024), "device": device(rng) if rng.random() < 0.5 else None,
    }
    if rng.random() < 0.3:
        doc |= {"standin": True, "missing_units": rng.choice([1, wire.MAX_UNITS]),
                "expected": [{"vid": hexid(rng), "pid": hexid(rng), "name": text(rng, 256)}
                             for _ in range(rng.choice([0, 1, wire.MAX_EXPECTED]))]}
    return doc


def host(rng: random.Random) -> dict[str, Any]:
    disks = rng.choice([0, 1, wire.MAX_DISKS])
    return {
        "hostname": text(rng, 256), "boot_time": when(rng),
        "cpu_ratio": rng.choice([0.0, 1.0]), "load1": rng.choice(FLOATS[:4]),
        "memory_used_ratio": rng.choice([0.0, 1.0]), "swap_used_ratio": 1.0,
        "disks": [{"mount": f"/{n}" + text(rng, 200), "used_ratio": rng.choice([0.0, 1.0]),
                   "free_bytes": rng.choice(HUGE)} for n in range(disks)],
        "temperature_c": rng.choice([None, *FLOATS]),
        "clock_offset_s": rng.choice([None, *FLOATS]),
    }


def count(rng: random.Random, bound: int) -> int:
    return rng.choice([0, 1, 5, bound])


def heartbeat(rng: random.Random, site: str, station: str) -> dict[str, Any]:
    return {
        "v": 1, "site": site, "station": station, "seq": seq(rng),
        "boot_id": text(rng, 64) or "b", "ts": when(rng),
        "interval_s": rng.choice([1e-300, 15.0, 86400.0]),
        "agent": {"version": text(rng, 256), "uptime_s": rng.choice(FLOATS[:4])},
        "host": host(rng) if rng.random() < 0.8 else None,
        "components": [component(rng, n) for n in range(count(rng, wire.MAX_COMPONENTS))],
        "checks": [{"id": ident(rng, n), "kind": text(rng, 256),
                    "status": rng.choice(wire.CHECK_STATUSES),
                    "latency_s": rng.choice([None, *FLOATS[:4]]), "detail": text(rng, 1024)}
                   for n in range(count(rng, wire.MAX_CHECKS))],
        "unexpected": [{"vid": hexid(rng), "pid": hexid(rng), "product": text(rng, 256),
                        "port": text(rng, 256), "serial": text(rng, 256)}
                       for _ in range(count(rng, wire.MAX_UNEXPECTED))],
    }


def event(rng: random.Random, site: str, station: str) -> dict[str, Any]:
    doc = {"v": 1, "site": site, "station": station, "boot_id": text(rng, 64) or "b",
           "seq": seq(rng, rng.randrange(50)), "ts": when(rng),
           "component": ident(rng, rng.randrange(64)),
           "from": rng.choice(wire.COMPONENT_STATUSES), "to": rng.choice(wire.COMPONENT_STATUSES),
           "detail": text(rng, 1024)}
    if rng.random() < 0.3:
        doc["oldest_pending"] = seq(rng)
    return doc


def status(rng: random.Random) -> dict[str, Any]:
    return {"state": rng.choice(["online", "offline", "lost"]), "boot_id": text(rng, 64) or "b",
            "session": seq(rng), "ts": None if rng.random() < 0.2 else when(rng),
            "reason": text(rng, 256), "v": 1}


def edge_doc(rng: random.Random, kind: wire.MessageKind, site: str, station: str) -> Any:
    if kind == "heartbeat":
        return heartbeat(rng, site, station)
    return event(rng, site, station) if kind == "event" else status(rng)


def station_message(rng: random.Random) -> tuple[str, bytes, bool]:
    """(topic, payload, mutated): an edge message, or one mutated from it (half)."""
    kind = rng.choice(KINDS)
    site, station = rng.choice(STATIONS)
    doc = edge_doc(rng, kind, site, station)
    if rng.random() < 0.5:
        return wire.topic_for(site, station, kind), samples.to_json(doc, ascii_only=False), False
    return wire.topic_for(site, station, kind), mutated_payload(doc, rng), True
