"""One MQTT message in: decode, apply to the Fleet, count, buffer history and acks.

Runs inline in the MQTT read callback on the event-loop thread (no hop to
another thread or task: at fleet scale the hand-off would cost more than the
work). Pure apart from logging, so it is tested without a broker.
"""

from __future__ import annotations

import logging
from typing import Final

from collector.fleet import ACCEPTED, EventOutcome, Fleet, Outcome
from collector.history import History
from collector.rejected import DETAIL_CHARS, RefusedEvent, refused_event
from collector.stats import IngestStats
from pantau.log_throttle import LogThrottle
from pantau.wire import Event, Heartbeat, Rejected, Status, TopicParts, decode_message

log = logging.getLogger(__name__)
_SHOWN: Final = 200  # characters of a topic / reason shown in a log line
_HEARTBEAT: Final = "heartbeat"


class Dispatcher:
    def __init__(self, fleet: Fleet, stats: IngestStats, history: History, root: str) -> None:
        self.fleet = fleet
        self._stats = stats
        self._accepted = stats.messages  # by kind; the heartbeat fast path counts here
        self._history = history
        self._root = root
        # Anyone who can publish can make us log: one line per reason per minute.
        self._throttle = LogThrottle(log)

    def handle(self, topic: str, payload: bytes, now: float) -> None:
        try:
            parts, msg = decode_message(topic, payload, self._root)
        except Rejected as exc:
            self._reject(exc.reason, topic, exc.detail)
            refused = refused_event(topic, payload, self._root, exc.reason)
            if refused is not None:
                self._keep_refused(refused, exc, payload, now)
            return
        if isinstance(msg, Heartbeat):
            outcome = self.fleet.apply_heartbeat(msg, now)
            if outcome is ACCEPTED:  # the common case at fleet scale, counted inline
                self._accepted[_HEARTBEAT] += 1
            else:
                self._count("heartbeat", topic, outcome)
        elif isinstance(msg, Event):
            self._event(parts, msg, topic, now)
        elif isinstance(msg, Status):
            outcome = self.fleet.apply_status(parts.site, parts.station, msg, now)
            self._count("status", topic, outcome)
        # ack / command: we do not subscribe to them; a broker that sends them anyway is ignored

    def _event(self, parts: TopicParts, ev: Event, topic: str, now: float) -> None:
        if self._history.full:
            # Not applied, so the Fleet does not mark it seen; not acked, so the
            # agent keeps it and sends it again once the store has caught up.
            self._reject("history_full", topic, "history backlog full: event deferred")
            return
        outcome = self.fleet.apply_event(ev, now)
        if outcome.gap:
            self._gap(ev.station, ev.boot_id, ev.seq, outcome.gap)
        if outcome.new:
            self._history.add_event(ev, now)
        if outcome.ack_seq is not None:
            # Duplicates are acked again too: the agent may have missed the first ack.
            self._history.add_ack(parts.site, ev.station, ev.boot_id, outcome.ack_seq)
        self._count("event", topic, outcome)

    def _keep_refused(
        self, ev: RefusedEvent, exc: Rejected, payload: bytes, now: float
    ) -> None:
        """Store a refused event for `replay-rejected` and ack past it (collector.rejected)."""
        if self._history.full:  # counted under its refusal already; the agent sends it again
            return
        outcome = self.fleet.apply_rejected_event(ev.station, ev.boot_id, ev.seq,
                                                  ev.oldest_pending)
        if outcome.gap:
            self._gap(ev.station, ev.boot_id, ev.seq, outcome.gap)
        if outcome.new:
            self._history.add_rejected((ev.station, ev.site, ev.boot_id, ev.seq, now,
                                        exc.reason, exc.detail[:DETAIL_CHARS], payload))
            self._stats.rejected_events_stored += 1
            self._throttle.warning("kept", "event %s/%s seq %d refused (%s) but stored for "
                                   "`pantau-collector replay-rejected` and acked",
                                   ev.station, ev.boot_id[:_SHOWN], ev.seq, exc.reason)
        if outcome.ack_seq is not None:
            self._history.add_ack(ev.site, ev.station, ev.boot_id, outcome.ack_seq)

    def _gap(self, station: str, boot_id: str, seq: int, missing: int) -> None:
        self._stats.history_gaps += 1
        self._stats.history_gap_events += missing
        self._throttle.warning("gap", "history gap: %d event(s) of %s/%s before seq %d never "
                               "reached this collector and the agent no longer holds them "
                               "(acked by another replica, or dropped by the agent's bounds)",
                               missing, station, boot_id[:_SHOWN], seq)

    def _count(self, kind: str, topic: str, outcome: Outcome | EventOutcome) -> None:
        if outcome.reason:  # refused, or (events) accepted but only a duplicate
            self._reject(outcome.reason, topic, f"{kind} {outcome.reason}")
            return
        self._stats.accept(kind)
        if outcome.unregistered:
            self._stats.unregistered_messages += 1

    def _reject(self, reason: str, topic: str, detail: str) -> None:
        self._stats.reject(reason)
        if reason != "duplicate":  # a duplicate is normal after a reconnect
            self._throttle.warning(reason, "rejected message on %s: %s",
                                   topic[:_SHOWN], detail[:_SHOWN])
