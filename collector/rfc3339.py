"""Times as the API and CSV files spell them: RFC 3339 in UTC ("2024-11-29T17:06:40Z")."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_text(ts: float | None) -> str | None:
    """`ts` (seconds since the epoch) as RFC 3339 UTC to the second; None stays None,
    and so does a time no calendar date can name (years past 9999, NaN)."""
    if ts is None:
        return None
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        # The wire refuses such times (wire.Timestamp); no view fails on one all the same.
        return None


def utc_cell(ts: float) -> str:
    """`utc_text` for a page attribute or a CSV cell: "" where it says None."""
    return utc_text(ts) or ""


def parse(text: str) -> float:
    """An RFC 3339 time with its offset ("Z" or "+07:00") → seconds; ValueError otherwise."""
    if "T" not in text.upper():
        raise ValueError("no time of day")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("no UTC offset")
    return moment.timestamp()
