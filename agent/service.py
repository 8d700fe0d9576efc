"""The agent loop: probe → diff → events → heartbeat, plus sd_notify and stop.

One thread runs the loop; paho's network thread only calls `request_report`
(a `report` command), which sets a flag and wakes the loop — the loop never
sleeps blind, it waits on a threading.Event with a deadline.

Schedule (monotonic clock):
  * every `poll_s`: usb, display and checks probes; host probe every `host_s`;
  * a heartbeat at once after any change (component, check, unexpected
    devices), after each new broker session, on `report`, else every `heartbeat_s`;
  * events are journalled before they are sent; the queue bounds are
    enforced every `BOUNDS_EVERY_S`;
  * WATCHDOG=1 only while the MQTT client is healthy and the loop made
    progress within the watchdog timeout, so systemd restarts a stuck agent.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from typing import Any, Protocol

from agent.config import AgentConfig
from agent.journal import EventJournal
from agent.probe_runner import ProbeRunner, describe_error
from agent.probes.base import ProbeEnv, ProbeFactory
from agent.state_machine import HeartbeatBuilder, Observation, StationStateMachine
from pantau import __version__
from pantau.sd_notify import Notifier
from pantau.wire import Heartbeat

log = logging.getLogger(__name__)

BOUNDS_EVERY_S = 300.0


class PublisherPort(Protocol):
    """What the loop needs from `agent.mqtt.publisher.Publisher`."""

    @property
    def connected(self) -> bool: ...
    @property
    def session(self) -> int: ...
    def start(self) -> None: ...
    def stop(self, reason: str = "shutdown", timeout: float = 5.0) -> None: ...
    def publish_heartbeat(self, hb: Heartbeat) -> bool: ...
    def flush_events(self) -> int: ...
    def healthy(self) -> bool: ...
    def drop_connection(self) -> None: ...


class AgentService:
    def __init__(
        self,
        config: AgentConfig,
        env: ProbeEnv | None = None,
        *,
        boot_id: str | None = None,
        stop_event: threading.Event | None = None,
        notifier: Notifier | None = None,
        probes: dict[str, ProbeFactory] | None = None,
        client_id: str | None = None,
    ) -> None:
        self.config = config
        self.env = env if env is not None else ProbeEnv()
        self.boot_id = boot_id or str(uuid.uuid4())
        self._stop = stop_event if stop_event is not None else threading.Event()
        self._wake = threading.Event()
        self._report = threading.Event()
        self._notifier = notifier if notifier is not None else Notifier(None)
        self.queue = EventJournal(config.queue, self.env.clock, self.env.monotonic)
        self._state = StationStateMachine(config.site, config.station, self.boot_id,
                                          self.queue.last_serials())
        self._builder = HeartbeatBuilder(config, self.boot_id, __version__)
        self.runner = ProbeRunner(config, self.env, probes)
        self.publisher: PublisherPort = self._make_publisher(client_id)
        self.last_heartbeat: Heartbeat | None = None
        self.last_observation: Observation | None = None
        self._started = self._last_progress = self.env.monotonic()
        self._session_seen = -1
        self._loop_error = ""
        self._crashed = False

    def _make_publisher(self, client_id: str | None) -> PublisherPort:
        from agent.mqtt.publisher import Publisher  # the one paho adapter, imported late

        publisher: Any = Publisher(
            self.config, self.boot_id, self.queue, on_report=self.request_report,
            clock=self.env.clock, rng=random.Random(), client_id=client_id,
        )
        return publisher  # type: ignore[no-any-return]

    # --- control, from any thread ---------------------------------------------

    def request_report(self, *_: object) -> None:
        """A `report` command: an immediate heartbeat. Safe from paho's thread."""
        self._report.set()
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def crash(self) -> None:
        """For the simulator: end like a killed process — no offline status, the Will fires."""
        self._crashed = True
        self.stop()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stats(self) -> dict[str, object]:
        return {
            "boot_id": self.boot_id, "connected": self.publisher.connected,
            "queued_events": len(self.queue), "dropped_events": self.queue.dropped_total,
            "probe_errors": self.runner.errors,
            "heartbeat_seq": self.last_heartbeat.seq if self.last_heartbeat else 0,
        }

    # --- the loop ---------------------------------------------------------------

    def run(self) -> int:
        """Run until `stop()` (or the injected stop event); returns the exit code, 0."""
        self.publisher.start()
        # READY once started, connected or not: an unreachable broker is retried
        # in the background and must not fail the unit's start.
        self._notifier.ready(f"station {self.config.station}, boot {self.boot_id}")
        log.info("pantau-agent %s started for %s/%s (boot %s)", __version__,
                 self.config.site, self.config.station, self.boot_id)
        try:
            self._loop()
        finally:
            self._shutdown()
        return 0

    def _loop(self) -> None:
        mono = self.env.monotonic
        intervals = self.config.intervals
        next_poll = next_host = next_heartbeat = next_bounds = next_dog = mono()
        while not self._stop.is_set():
            now = mono()
            if now >= next_poll or self._report.is_set():
                host_due = now >= next_host
                heartbeat_due = now >= next_heartbeat
                if self._poll_safely(host_due, heartbeat_due):
                    next_heartbeat = now + intervals.heartbeat_s
                next_poll = now + intervals.poll_s
                next_host = now + intervals.host_s if host_due else next_host
            if now >= next_bounds:
                self.queue.enforce_bounds()  # logs and counts what it drops
                next_bounds = now + BOUNDS_EVERY_S
            next_dog = self._maybe_watchdog(now, next_dog)
            self._wait_until(min(next_poll, next_dog))

    def _poll_safely(self, host_due: bool, heartbeat_due: bool) -> bool:
        """One poll; returns whether a heartbeat went out. Never raises."""
        try:
            sent = self._poll(host_due, heartbeat_due)
        except Exception as exc:  # a bug here must not kill the agent; the watchdog sees it
            error = describe_error(exc)
            if error != self._loop_error:
                log.exception("probe loop failed: %s", error)
            self._loop_error = error
            return False
        self._loop_error = ""
        self._last_progress = self.env.monotonic()
        return sent

    def _poll(self, host_due: bool, heartbeat_due: bool) -> bool:
        names = [n for n in self.runner.names if n != "host" or (host_due and self._host_on)]
        result = self.runner.run(names)
        observation = self._state.observe(result, self.env.clock())
        self.last_observation = observation
        for event in observation.events:
            log.info("%s: %s → %s %s", event.component, event.from_, event.to, event.detail)
            self.queue.append(event)
        serials = self._state.take_serial_changes()
        if serials:
            self.queue.remember_serials(serials)
        new_session = self._new_session()
        if observation.events or new_session or heartbeat_due:
            self.publisher.flush_events()  # replays the journal in order, oldest first
        reported = self._report.is_set()
        self._report.clear()
        if not (observation.changed or new_session or reported or heartbeat_due):
            return False
        self._send_heartbeat(observation, result.host)
        return True

    @property
    def _host_on(self) -> bool:
        return self.config.host.enabled

    def _new_session(self) -> bool:
        """True once per broker connection: the retained heartbeat may be stale."""
        if not self.publisher.connected:
            return False
        session = self.publisher.session
        fresh, self._session_seen = session != self._session_seen, session
        return fresh

    def _send_heartbeat(self, observation: Observation, host: Any) -> None:
        uptime = self.env.monotonic() - self._started
        heartbeat = self._builder.build(observation, host, self.env.clock(), uptime,
                                        self.queue.health())
        self.last_heartbeat = heartbeat
        self.publisher.publish_heartbeat(heartbeat)  # not queued offline: the next supersedes

    def _maybe_watchdog(self, now: float, next_dog: float) -> float:
        interval = self._notifier.watchdog_interval_s
        if interval is None:
            return float("inf")
        if now < next_dog:
            return next_dog
        timeout = self._notifier.watchdog_timeout_s or 2 * interval
        if self.publisher.healthy() and now - self._last_progress < timeout:
            self._notifier.watchdog()
        return now + interval

    def _wait_until(self, deadline: float) -> None:
        if self._report.is_set() or self._stop.is_set():
            return
        self._wake.wait(max(0.0, deadline - self.env.monotonic()))
        self._wake.clear()

    def _shutdown(self) -> None:
        self._notifier.stopping()
        if self._crashed:
            self._drop_connection()
        else:
            log.info("stopping: publishing offline status and disconnecting")
        try:
            self.publisher.stop(reason="shutdown")  # no live connection left after a crash
        finally:
            self.queue.close()

    def _drop_connection(self) -> None:
        self.publisher.drop_connection()
        deadline = self.env.monotonic() + 5.0
        # The publisher sees the dead socket on its network thread; wait (bounded)
        # so that stop() finds no live connection and sends no offline status.
        while self.publisher.connected and self.env.monotonic() < deadline:
            self._wake.wait(0.01)
