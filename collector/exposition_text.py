"""Prometheus text exposition format 0.0.4: family headers, label escaping, numbers.

Hand-written on purpose: rendering straight from state is ~10x faster than
building prometheus_client objects for a fleet of 10k stations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import msgspec

MetricType = Literal["gauge", "counter"]


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    type: MetricType
    help: str

    @property
    def header(self) -> str:
        return f"# HELP {self.name} {escape_help(self.help)}\n# TYPE {self.name} {self.type}\n"


def escape_label(value: str) -> str:
    # The common case (ids, versions, host names) has nothing to escape.
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


_SPECIAL: Final = {math.inf: "+Inf", -math.inf: "-Inf"}


def num(value: float | int | bool) -> str:
    """A sample value as the format spells it (Go ParseFloat syntax)."""
    # Finite floats first, they are nearly every sample: x - x is 0.0 only
    # for those (inf - inf and nan - nan are nan).
    if type(value) is float and value - value == 0.0:
        return repr(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if value != value:  # NaN
        return "NaN"
    if value in _SPECIAL:
        return _SPECIAL[value]
    return repr(value)


_JSON: Final = msgspec.json.Encoder()
# msgspec writes a float's shortest round-trip digits like repr() does, but
# spells some differently: exponents ("1e16", "1e-7" for "1e+16", "1e-07"),
# values under 1e-4 in full ("0.00001" for "1e-05"), NaN/inf as null, bools.
# A value so spelt goes through num() instead, so the output never differs.
_ODD: Final = (b"e", b"n", b"t", b"f", b'"')
_TINY: Final = (b"0.0000", b"-0.0000")
_BATCH: Final = 2048  # values per encode: small buffers, reused rather than kept in RSS


def numbers(values: Sequence[float | int], before: bytes = b"", after: bytes = b"") -> list[bytes]:
    """`before + num(v).encode() + after` for each value, ~3x faster: C calls per batch.

    At fleet scale /metrics formats ~100k fresh numbers per scrape (heartbeat
    timestamps, host figures) and repr() alone took 30 ms of it; `before` and
    `after` ride along so a sample's tail (`} 0.25\\n`) is one piece, not three.
    """
    out: list[bytes] = []
    for start in range(0, len(values), _BATCH):
        batch = values[start:start + _BATCH]
        text = _JSON.encode(batch)
        if any(odd in text for odd in _ODD) or any(tiny in text for tiny in _TINY):
            # Only the values spelt differently go through num(): a fleet whose clock
            # offsets are a few microseconds has one in every batch.
            out += [before + (piece if _plain(piece) else num(v).encode()) + after
                    for piece, v in zip(text[1:-1].split(b","), batch, strict=True)]
        else:
            joint = after + b"," + before
            out += (before + text[1:-1].replace(b",", joint) + after).split(b",")
    return out


def _plain(piece: bytes) -> bool:
    return not (piece.startswith(_TINY) or any(odd in piece for odd in _ODD))


def labels(**pairs: str) -> str:
    """`a="x",b="y"` with values escaped; callers wrap it in braces."""
    return ",".join(f'{name}="{escape_label(value)}"' for name, value in pairs.items())


def line(name: str, label_text: str, value: float | int | bool) -> str:
    return f"{name}{{{label_text}}} {num(value)}\n"
