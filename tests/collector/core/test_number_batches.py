"""`numbers` (batch formatting through msgspec) spells every value exactly as `num` does.

msgspec and repr() agree on the digits of a float but not always on the
spelling (exponents, tiny values, NaN/inf); the batch must fall back to `num`
whenever they could differ, or /metrics would change under Prometheus's feet.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.exposition_text import num, numbers

VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e-3, max_value=1e-3),  # around the 1e-4 switch to exponents
    st.floats(min_value=1e15, max_value=1e17),  # around the 1e16 switch
    st.integers(min_value=-(2**63), max_value=2**63),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(VALUES, max_size=40))
def test_any_batch_is_spelled_like_num(values: list[float | int]) -> None:
    assert numbers(values, b"} ", b"\n") == [b"} " + num(v).encode() + b"\n" for v in values]


@pytest.mark.parametrize("value", [
    0.0, -0.0, 0.1, 0.30000000000000004, 1e-4, 9.99e-5, 1e-05, 1e16, 9999999999999998.0,
    1795985552.4969223, 1.7e9, 50.0, math.inf, -math.inf, math.nan, True, False, 10**10,
])
def test_edge_values_alone_and_amid_plain_ones(value: float) -> None:
    for batch in ([value], [0.5, value, 2.0]):
        assert numbers(batch) == [num(v).encode() for v in batch]


def test_batches_longer_than_one_encode_keep_order() -> None:
    values = [i / 7 for i in range(5000)] + [1e-9] + [i * 1.5 for i in range(3000)]
    assert numbers(values) == [num(v).encode() for v in values]
