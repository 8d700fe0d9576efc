"""Counters the ingest increments and /metrics renders.

Rejections are counted per reason from a fixed set so that the metric has a
bounded label set and every reason is exported (0 included) from the start:
an alert on `rate(...{reason="schema"}[5m])` then works before the first one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from pantau import wire

# The protocol's decode reasons plus the ones the fleet state machine adds.
REJECT_REASONS: Final[tuple[str, ...]] = (
    *wire.REJECT_REASONS, "retired", "out_of_order", "stale_will", "duplicate",
)
# The kinds the collector subscribes to (acks and commands are its own output).
INGESTED_KINDS: Final[tuple[str, ...]] = ("status", "heartbeat", "event")


@dataclass(slots=True)
class IngestStats:
    messages: Counter[str] = field(default_factory=Counter)  # accepted, by kind
    rejected: Counter[str] = field(default_factory=Counter)  # by reason in REJECT_REASONS
    broker_connected: bool = False
    unregistered_messages: int = 0  # accepted from stations the registry does not know

    def reject(self, reason: str) -> None:
        # An unknown reason is a bug in the caller, not bad input: fail loudly
        # rather than grow the label set without bound.
        if reason not in REJECT_REASONS:
            raise ValueError(f"unknown reject reason {reason!r}; expected one of {REJECT_REASONS}")
        self.rejected[reason] += 1

    def accept(self, kind: str) -> None:
        if kind not in INGESTED_KINDS:
            raise ValueError(f"unknown message kind {kind!r}; expected one of {INGESTED_KINDS}")
        self.messages[kind] += 1
