"""`numbers` (batch formatting through msgspec) spells every value as a sample Prometheus
reads to the very float `num` spells.

msgspec and repr() agree on the digits of a float but not always on the
spelling (exponents, tiny values); both spellings parse to the same float64.
NaN, infinities and bools msgspec cannot spell as samples at all: those must go
through `num`, or /metrics would carry `null` and `true` where Prometheus expects
a number. promtool reads the spellings as Prometheus does.
"""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.exposition_text import num, numbers

PROMTOOL = Path("/usr/bin/promtool")
# Go's strconv.ParseFloat, decimal form, and the special values of the text format.
SAMPLE = re.compile(rb"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|NaN|[+-]Inf")
VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e-3, max_value=1e-3),  # around the 1e-4 switch to exponents
    st.floats(min_value=1e15, max_value=1e17),  # around the 1e16 switch
    st.integers(min_value=-(2**63), max_value=2**63),
)
EDGES = [
    0.0, -0.0, 0.1, 0.30000000000000004, 1e-4, 9.99e-5, 1e-05, -2.47955322265625e-05, 1e16,
    9999999999999998.0, 1795985552.4969223, 1.7e9, 50.0, 5e-324, 1.7976931348623157e308,
    math.inf, -math.inf, math.nan, True, False, 10**10, -(2**63),
]


def same_sample(piece: bytes, value: float | int) -> bool:
    """`piece` is a sample that reads as the float num(value) spells (ints: exactly)."""
    if SAMPLE.fullmatch(piece) is None:
        return False
    if isinstance(value, int) and not isinstance(value, bool):
        return piece == str(value).encode()
    read, meant = float(piece), float(num(value))
    return read == meant or (math.isnan(read) and math.isnan(meant))


@settings(max_examples=300, deadline=None)
@given(st.lists(VALUES, max_size=40))
def test_any_batch_reads_as_num(values: list[float | int]) -> None:
    out = numbers(values, b"} ", b"\n")
    assert len(out) == len(values)
    for piece, value in zip(out, values, strict=True):
        assert piece.startswith(b"} ") and piece.endswith(b"\n")
        assert same_sample(piece[2:-1], value), (piece, value)


@pytest.mark.parametrize("value", EDGES)
def test_edge_values_alone_and_amid_plain_ones(value: float) -> None:
    for batch in ([value], [0.5, value, 2.0]):
        out = numbers(batch)
        assert all(same_sample(p, v) for p, v in zip(out, batch, strict=True)), out


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, True, False])
def test_values_msgspec_cannot_spell_as_samples_go_through_num(value: float) -> None:
    assert numbers([1.5, value, 2.5]) == [b"1.5", num(value).encode(), b"2.5"]


def test_batches_longer_than_one_encode_keep_order() -> None:
    values = [i / 7 for i in range(5000)] + [1e-9, math.nan] + [i * 1.5 for i in range(3000)]
    out = numbers(values)
    assert all(same_sample(p, v) for p, v in zip(out, values, strict=True))


def test_promtool_reads_every_spelling() -> None:
    if not PROMTOOL.exists():
        pytest.skip("promtool not installed (Debian package prometheus)")
    body = b"# HELP pantau_edge Edge values.\n# TYPE pantau_edge gauge\n" + b"".join(
        b'pantau_edge{case="%d"} %b\n' % (case, value)
        for case, value in enumerate(numbers(EDGES)))
    done = subprocess.run([str(PROMTOOL), "check", "metrics"], input=body, capture_output=True,
                          timeout=30, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
