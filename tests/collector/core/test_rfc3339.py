"""Times as views spell them: RFC 3339 UTC, and nothing (never an error) where no
calendar date can name the time (the wire refuses those; the views hold on anyway)."""

from __future__ import annotations

import pytest

from collector.rfc3339 import utc_cell, utc_text


@pytest.mark.parametrize(("ts", "text"), [
    (None, None),
    (0.0, "1970-01-01T00:00:00Z"),
    (946_684_800.0, "2000-01-01T00:00:00Z"),
    (4_102_444_799.9, "2099-12-31T23:59:59Z"),
    (1.7e12, None),  # milliseconds for seconds: the year 55,840
    (-1e12, None),
    (1e300, None),
    (float("nan"), None),
    (float("inf"), None),
])
def test_utc_text(ts: float | None, text: str | None) -> None:
    assert utc_text(ts) == text
    if ts is not None:
        assert utc_cell(ts) == (text or "")
