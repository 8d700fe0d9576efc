"""Counters and gauges of the collector itself, which /metrics renders.

Rejections are counted per reason from a fixed set so that the metric has a
bounded label set and every reason is exported (0 included) from the start:
an alert on `rate(...{reason="schema"}[5m])` then works before the first one.
The same holds for the history store's errors per operation.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from collector.store import STORE_OPS
from pantau import wire

# The protocol's decode reasons, the ones the fleet state machine adds, `history_full`: an
# event deferred because the history backlog is full (not acked: the agent sends it again),
# and `error`: applying the message raised (a collector bug; its traceback is logged at most
# once a minute).
REJECT_REASONS: Final[tuple[str, ...]] = (
    *wire.REJECT_REASONS, "retired", "out_of_order", "stale_will", "duplicate", "history_full",
    "error",
)
# The kinds the collector subscribes to (acks and commands are its own output).
INGESTED_KINDS: Final[tuple[str, ...]] = ("status", "heartbeat", "event")


@dataclass(slots=True)
class StoreStats:
    """The history store as /metrics and /readyz see it; written on the loop thread."""

    errors: Counter[str] = field(default_factory=Counter)  # by op in STORE_OPS
    resets: int = 0  # corrupt files set aside
    dropped_rows: int = 0  # state changes dropped from a full backlog (events are deferred)
    pending_rows: int = 0  # rows waiting for a commit
    problem: str = ""  # why nothing can be committed now; "" when the last attempt worked

    def error(self, op: str, why: str) -> None:
        if op not in STORE_OPS:
            raise ValueError(f"unknown store operation {op!r}; expected one of {STORE_OPS}")
        self.errors[op] += 1
        if op != "prune":  # a failed prune costs disk space, not history
            self.problem = why


@dataclass(slots=True)
class RegistryStats:
    """The fleet registry's loads; absent from /metrics when no registry is configured."""

    configured: bool = False
    last_load_ok: bool = False
    last_success_ts: float | None = None  # the collector's clock


@dataclass(slots=True)
class IngestStats:
    messages: Counter[str] = field(default_factory=Counter)  # accepted, by kind
    rejected: Counter[str] = field(default_factory=Counter)  # by reason in REJECT_REASONS
    broker_connected: bool = False
    unregistered_messages: int = 0  # accepted from stations the registry does not know
    rejected_events_stored: int = 0  # refused events stored with their payload and acked
    history_gaps: int = 0  # times a boot's seqs were skipped for good (collector.event_ledger)
    history_gap_events: int = 0  # the seqs so skipped
    store: StoreStats = field(default_factory=StoreStats)
    registry: RegistryStats = field(default_factory=RegistryStats)

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
