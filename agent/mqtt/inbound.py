"""What the agent does with messages it receives: acks, commands, its own status.

Everything here runs on the MQTT network thread, so nothing may raise out of
`handle` (an exception there would kill the thread and with it the
connection): bad input is counted by the caller from the returned outcome and
logged at a limited rate, because anyone with write access to these topics
could otherwise fill the station's disk with log lines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from agent.mqtt.outbox import Outbox
from pantau import wire
from pantau.log_throttle import LogThrottle

log = logging.getLogger(__name__)

InboundOutcome = Literal["ack", "command", "ignored", "bad", "rebirth"]


class Inbound:
    def __init__(
        self,
        topics: dict[str, wire.MessageKind],
        outbox: Outbox,
        *,
        on_report: Callable[[], None],
        republish_birth: Callable[[], None],
        max_payload_bytes: int,
    ) -> None:
        self._topics = topics  # exact topic → kind (ack, command, status)
        self._outbox = outbox
        self._on_report = on_report
        self._republish_birth = republish_birth
        self._limit = max_payload_bytes
        self._throttle = LogThrottle(log)

    def handle(self, topic: str, payload: bytes, *, live: bool) -> InboundOutcome:
        """Act on one message; `live` is True while connected and not stopping."""
        kind = self._topics.get(topic)
        try:
            if kind is None:
                raise wire.Rejected("topic", f"not subscribed to {topic!r}")
            msg = wire.decode(kind, payload, self._limit)
            return self._dispatch(msg, live)
        except wire.Rejected as exc:
            self._throttle.warning(f"bad-{kind}", "refused a message on %s: %s", topic, exc)
            return "bad"
        except Exception:  # a bug must not take the network thread down with it
            log.exception("error handling a message on %s", topic)
            return "bad"

    def _dispatch(self, msg: wire.Payload, live: bool) -> InboundOutcome:
        if isinstance(msg, wire.Ack):
            self._outbox.on_ack(msg.boot_id, msg.seq)
            return "ack"
        if isinstance(msg, wire.Command):
            return self._command(msg)
        if isinstance(msg, wire.Status):
            return self._status(msg, live)
        return "ignored"

    def _command(self, msg: wire.Command) -> InboundOutcome:
        if msg.cmd != "report":
            self._throttle.warning(f"cmd-{msg.cmd[:32]}", "ignored unknown command %r "
                                   "(only 'report' is supported)", msg.cmd[:32])
            return "bad"
        self._on_report()
        return "command"

    def _status(self, msg: wire.Status, live: bool) -> InboundOutcome:
        # While we are connected the retained status must be our birth. A `lost` or
        # `offline` there is a stale Will (ours from an earlier session, or a previous
        # boot's Will the broker fired late): say again that we are online.
        if live and msg.state in ("lost", "offline"):
            log.info("retained status says %s (boot %s, session %d) while connected: "
                     "republishing birth", msg.state, msg.boot_id, msg.session)
            self._republish_birth()
            return "rebirth"
        return "ignored"
