"""The collector's MQTT session: connect, subscribe, retained-state sync, acks, reconnects.

Session: fixed client id, MQTT 3.1.1 clean_session=False, so QoS 1 status and
event messages published while the collector restarts wait at the broker.
Heartbeats are subscribed at QoS 0 on purpose: the broker then does not queue
them for an offline collector (each one supersedes the last and the retained
copy restores state on subscribe), so they cannot crowd events out of the
broker's per-client queue (Mosquitto's max_queued_messages).

Retained state is "loaded" when a marker we publish to our own sync topic
right after the SUBACK comes back: the broker queues it behind the retained
messages that subscription produced. If the broker's ACL drops the marker, a
fallback declares the state loaded after RETAINED_QUIET_S without retained
messages.

The socket itself is driven by `collector.mqtt.paho_loop` on the asyncio loop;
each message reaches `Dispatcher.handle` inline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

from collector.app_keys import Health
from collector.config import CollectorConfig
from collector.dispatch import Dispatcher
from collector.errors import CollectorError
from collector.mqtt.paho_loop import LinkCallbacks, PahoLink
from collector.stats import IngestStats
from pantau.backoff import Backoff
from pantau.log_throttle import LogThrottle
from pantau.wire import Ack, encode, subscription_filters, topic_for

log = logging.getLogger(__name__)

RETAINED_QUIET_S: Final = 2.0
TICK_S: Final = 1.0  # session liveness check and paho keepalive (loop_misc) period
CLOSE_GRACE_S: Final = 1.0  # for a DISCONNECT to close the socket before we shut it down


class IngestError(CollectorError):
    """The MQTT session cannot be set up from this configuration."""


def subscriptions(config: CollectorConfig, extra: Iterable[str] = ()) -> list[tuple[str, int]]:
    """`extra`: the collector's own topics (collector.repair_sync), QoS 1 so they queue."""
    root, sites = config.topic_root, config.sites
    qos1 = subscription_filters(("status", "event"), sites, root)
    qos0 = subscription_filters(("heartbeat",), sites, root)
    return ([(f, 1) for f in qos1] + [(f, 0) for f in qos0] + [(sync_topic(config), 1)]
            + [(t, 1) for t in extra])


def sync_topic(config: CollectorConfig) -> str:
    client_id = str(config.broker.client_id).replace("/", "_").replace("+", "_").replace("#", "_")
    return f"{config.topic_root}/collector/{client_id}/sync"


def _read_secret(path: object | None) -> str | None:
    if path is None:
        return None
    try:
        with open(str(path), encoding="utf-8") as f:
            return f.read().strip()
    except OSError as exc:
        raise IngestError(f"cannot read broker password_file {path}: {exc.strerror}") from None


class IngestSession:
    def __init__(
        self, config: CollectorConfig, dispatcher: Dispatcher, stats: IngestStats,
        health: Health, *, clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._dispatcher = dispatcher
        self._stats = stats
        self._health = health
        self._clock = clock
        self._sync_topic = sync_topic(config)
        # One collector, not a fleet: no restart spread, retry from reconnect_min_s.
        broker = config.broker
        self._backoff = Backoff(broker.reconnect_min_s, broker.reconnect_max_s,
                                first_window_s=broker.reconnect_min_s)
        self._throttle = LogThrottle(log)
        self._link = PahoLink(config.broker, _read_secret(config.broker.password_file),
                              LinkCallbacks(
                                  connected=self._on_connect, refused=self._on_refused,
                                  subscribed=self._on_subscribe,
                                  disconnected=self._on_disconnect,
                                  socket_gone=self._socket_gone, message=self._on_message,
                                  undecodable_topic=lambda: self._stats.reject("topic")))
        self._stopping = False
        self._sub_mid: int | None = None
        self._last_retained = 0.0
        self._fallback: asyncio.Task[None] | None = None
        self._attempt = 0  # tags callbacks, so a late one cannot end the next session
        self._over: asyncio.Future[str] | None = None  # why the current session ended
        self._connack = False
        self._connecting: asyncio.Future[Any] | None = None
        self._deferred_acks: list[tuple[str, bytes]] = []
        self._own_topics: dict[str, Callable[[bytes], None]] = {}

    def add_topic(self, topic: str, handler: Callable[[bytes], None]) -> None:
        """Subscribe to one of the collector's own topics (from the next session on)."""
        self._own_topics[topic] = handler

    # --- session loop --------------------------------------------------------

    async def run(self) -> None:
        """Connect, and reconnect with capped, jittered backoff, until `stop()`."""
        self._link.bind(asyncio.get_running_loop())
        while not self._stopping:
            try:
                await self._one_session()
            except Exception:  # a bug here must not end ingest for good
                log.exception("MQTT session to %s failed; reconnecting", self._config.broker.url)
            if not self._stopping:
                await asyncio.sleep(self._retry_delay())

    def _retry_delay(self) -> float:
        # Outside the guard above: a failure here would end the supervisor
        # silently (the task's exception surfaces only at shutdown).
        try:
            return self._backoff.next_delay()
        except Exception:
            log.exception("reconnect backoff failed; retrying in reconnect_max_s")
            return self._config.broker.reconnect_max_s

    async def _one_session(self) -> None:
        self._attempt += 1
        self._over = asyncio.get_running_loop().create_future()
        self._connack = False
        try:
            if await self._connect() and not self._stopping:
                await self._supervise()
        finally:  # also on error: a socket left watched would end the next session
            await self._close(CLOSE_GRACE_S)
        log.debug("MQTT session %d over: %s", self._attempt,
                  self._over.result() if self._over.done() else "abandoned")

    async def _connect(self) -> bool:
        # Only the blocking TCP/TLS connect runs in a thread. Until it returns,
        # no other paho call may run on the loop (see publish_ack).
        connecting = asyncio.get_running_loop().run_in_executor(None, self._link.connect)
        self._connecting = connecting
        try:
            await asyncio.shield(connecting)
        except asyncio.CancelledError:
            connecting.add_done_callback(self._discard)  # close what the thread still opens
            raise
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            self._throttle.warning("connect", "cannot connect to MQTT broker %s: %s",
                                   self._config.broker.url, exc)
            return False
        finally:
            if connecting.done():  # not when cancelled: the thread may still be in paho
                self._publish_deferred_acks()
        return True

    async def _supervise(self) -> None:
        """Until the session is over: CONNACK within connect_timeout_s, then a
        liveness check (and paho's keepalive) every TICK_S, so a session whose
        end no callback reported is still noticed within a second."""
        assert self._over is not None
        loop = asyncio.get_running_loop()
        timeout = self._config.broker.connect_timeout_s
        deadline = loop.time() + timeout
        while not self._over.done():
            left = deadline - loop.time()
            if not self._connack and left <= 0:
                log.warning("no CONNACK from %s within %gs; retrying",
                            self._config.broker.url, timeout)
                return
            await asyncio.wait([self._over], timeout=TICK_S if self._connack else min(TICK_S, left))
            why = None if self._over.done() else self._link.check()
            if why is not None:
                self._session_over(self._attempt, why)
                self._throttle.warning("lost", "lost MQTT broker %s: %s; reconnecting",
                                       self._config.broker.url, why)

    async def _close(self, grace_s: float) -> None:
        """Leave no socket behind: DISCONNECT, and shut it down if that does not close it."""
        self._set_connected(False)
        if self._connecting is not None and not self._connecting.done():
            return  # the connect thread still owns paho; _discard closes what it opens
        if self._link.is_open():
            self._link.disconnect()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._link.gone.wait(), grace_s)
        if self._link.is_open():
            if self._stopping:
                log.warning("broker did not close the session within %gs", grace_s)
            self._link.force_close()
        self._link.unwatch()

    def _discard(self, connecting: asyncio.Future[Any]) -> None:
        if not connecting.cancelled() and connecting.exception() is None:
            self._link.force_close()
            self._link.unwatch()

    def _session_over(self, attempt: int, why: str) -> None:
        if attempt != self._attempt:
            return
        if self._over is not None and not self._over.done():
            self._over.set_result(why)
        self._set_connected(False)

    def _socket_gone(self) -> None:
        self._session_over(self._attempt, "socket closed")

    async def stop(self, timeout: float = 3.0) -> None:
        """Disconnect cleanly; the broker keeps our session for the next start."""
        self._stopping = True
        connecting = self._connecting
        if connecting is not None and not connecting.done():
            # A connect in flight cannot be interrupted: wait, then close its socket.
            await asyncio.wait([connecting], timeout=self._config.broker.connect_timeout_s + 1)
        await self._close(timeout)

    def publish_ack(self, site: str, station: str, boot_id: str, seq: int) -> None:
        topic = topic_for(site, station, "ack", self._config.topic_root)
        self.publish(topic, encode(Ack(boot_id=boot_id, seq=seq)))

    def publish(self, topic: str, payload: bytes) -> None:
        """QoS 1; paho queues it while the broker is away (our session is persistent)."""
        if self._connecting is not None and not self._connecting.done():
            # paho is not thread-safe: a publish racing reconnect() in the connect
            # thread can leave the CONNECT queued with no write ever scheduled.
            self._deferred_acks.append((topic, payload))
            return
        self._link.publish(topic, payload, qos=1)

    def _publish_deferred_acks(self) -> None:
        acks, self._deferred_acks = self._deferred_acks, []
        for topic, payload in acks:
            self._link.publish(topic, payload, qos=1)

    # --- paho callbacks (loop thread) ----------------------------------------

    def _on_refused(self, reason: str) -> None:
        hint = " (check username and password_file)" if "auth" in reason.lower() else ""
        self._throttle.warning("refused", "MQTT broker refused the connection: %s%s",
                               reason, hint)

    def _on_connect(self, session_present: bool) -> None:
        log.info("connected to %s (session present: %s)", self._config.broker.url,
                 session_present)
        self._backoff.reset()
        self._connack = True
        self._set_connected(True)
        try:
            self._sub_mid = self._link.subscribe(subscriptions(self._config, self._own_topics))
        except Exception:  # without the subscription this session is useless: start over
            log.exception("cannot subscribe on %s", self._config.broker.url)
            self._session_over(self._attempt, "subscribe failed")

    def _on_subscribe(self, mid: int, refusals: list[str | None]) -> None:
        if mid != self._sub_mid:
            return
        wanted = subscriptions(self._config, self._own_topics)
        for (topic, _qos), refusal in zip(wanted, refusals, strict=False):
            if refusal is not None:
                log.error("broker refused subscription %s: %s (check the ACL)", topic, refusal)
        if not self._health.retained_loaded:
            self._last_retained = time.monotonic()
            self._link.publish(self._sync_topic, b"sync", qos=1)
            self._fallback = asyncio.get_running_loop().create_task(self._retained_fallback())

    def _on_disconnect(self, reason: str) -> None:
        # Tagged with the attempt now: if paho calls this off the loop thread,
        # it runs later, when a newer session may already be up.
        self._link.on_loop(self._lost, self._attempt, reason)

    def _lost(self, attempt: int, reason: str) -> None:
        if not self._stopping and attempt == self._attempt:
            self._throttle.warning("lost", "lost MQTT broker %s: %s; reconnecting",
                                   self._config.broker.url, reason)
        self._session_over(attempt, f"disconnected: {reason}")

    def _on_message(self, topic: str, payload: bytes, retained: bool) -> None:
        if retained:
            self._last_retained = time.monotonic()
        try:
            if topic == self._sync_topic:
                self._retained_done("sync marker received")
                return
            own = self._own_topics.get(topic)
            if own is not None:
                own(payload)
                return
            self._dispatcher.handle(topic, payload, self._clock())
        except Exception as exc:  # a bug must cost one message, never the session
            # Counted per message; the traceback once a minute per kind of failure, or
            # a message that keeps failing would write one per copy.
            self._stats.reject("error")
            self._throttle.log(logging.ERROR, f"apply:{type(exc).__name__}",
                               "failed to apply a message on %r (a collector bug; the message "
                               "is dropped)", topic[:200], exc_info=True)

    # --- readiness -----------------------------------------------------------

    async def _retained_fallback(self) -> None:
        while not self._health.retained_loaded and self._health.broker_connected:
            await asyncio.sleep(0.1)
            if time.monotonic() - self._last_retained >= RETAINED_QUIET_S:
                self._retained_done(f"no retained message for {RETAINED_QUIET_S:g}s")

    def _retained_done(self, why: str) -> None:
        if not self._health.retained_loaded:
            log.info("retained station state loaded (%s)", why)
            self._health.retained_loaded = True

    def _set_connected(self, up: bool) -> None:
        self._health.broker_connected = self._stats.broker_connected = up
