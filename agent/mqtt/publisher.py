"""The agent's MQTT side (the only paho import in the agent).

One supervisor thread owns the connection life cycle: it builds a fresh paho
client per attempt (Will = `lost` with that attempt's session number),
connects, lets paho's threaded loop run the socket, and when the connection
ends waits a jittered backoff before the next attempt, on the next node of the
broker list (pantau.failover). paho's own reconnect is
off because its delays have no jitter. Other threads only publish (paho queues
the packet for its network thread, so the socket has one writer).

On every connect: birth (retained `online` with boot_id and session),
subscriptions to our ack, command and status topics, then replay of the disk
queue from the oldest event. Events leave the disk only when the collector
acks them (see agent.mqtt.outbox); heartbeats are never queued while offline.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import msgspec
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent.config import AgentConfig
from agent.journal import EventJournal, JournaledEvent
from agent.mqtt.inbound import Inbound, InboundOutcome
from agent.mqtt.outbox import Outbox
from agent.mqtt.reconnect import ReconnectLoop
from pantau import wire
from pantau.failover import BrokerRotation, station_backoff
from pantau.log_throttle import LogThrottle

log = logging.getLogger(__name__)

_WATCH_INTERVAL_S = 0.5  # how often the supervisor checks the connection and resends


class PublisherStats(msgspec.Struct):
    connects: int = 0
    disconnects: int = 0
    heartbeats_sent: int = 0
    events_sent: int = 0
    acks: int = 0
    oversize_dropped: int = 0
    commands: int = 0
    bad_messages: int = 0
    rebirths: int = 0  # births republished over a stale Will
    event_resends: int = 0  # ack timeouts that sent the unacked events again


class Publisher:
    """MQTT side of one agent. `on_report` runs on the network thread: keep it quick
    (set a flag or an Event for the probe loop); calling `publish_heartbeat` from it is fine."""

    def __init__(
        self,
        config: AgentConfig,
        boot_id: str,
        queue: EventJournal,
        *,
        on_report: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        client_id: str | None = None,
        ack_timeout_s: float = 30.0,
        max_unacked: int = 500,
    ) -> None:
        self.config = config
        self.boot_id = boot_id
        self.queue = queue
        self.stats = PublisherStats()
        self._broker = config.broker
        self._clock = clock
        self._client_id = client_id or self._broker.client_id or f"pantau-agent-{config.station}"
        self._topic = {kind: wire.topic_for(config.site, config.station, kind,
                                                root=self._broker.topic_root)
                       for kind in wire.MESSAGE_KINDS}
        # The ack timer uses the monotonic clock, not `clock`: a station clock set back
        # must not stall resends (see agent.mqtt.outbox).
        self._outbox = Outbox(queue, ack_timeout_s=ack_timeout_s, max_unacked=max_unacked,
                              max_payload_bytes=config.max_payload_bytes)
        self._inbound = Inbound({self._topic[k]: k for k in ("ack", "command", "status")},
                                self._outbox, on_report=on_report,
                                republish_birth=self._republish_birth,
                                max_payload_bytes=config.max_payload_bytes)
        self._nodes = BrokerRotation(self._broker)
        self._loop = ReconnectLoop(
            self._one_connection, station_backoff(self._broker, rng),
            stable_after_s=max(self._broker.reconnect_max_s, self._broker.keepalive_s),
            stuck_after_s=self._broker.connect_timeout_s + 10.0, name="pantau-mqtt")
        self._throttle = LogThrottle(log)
        self._lock = threading.Lock()  # guards _client, _connected, _session
        self._client: mqtt.Client | None = None
        self._connected = False
        self._session = 0
        self._stopping = False
        self._wake = threading.Event()
        self._ended = threading.Event()  # the current attempt's connection is over
        self._stats_lock = threading.Lock()

    # --- public API ------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background and keep reconnecting until `stop`."""
        self._loop.start()

    def stop(self, reason: str = "shutdown", timeout: float = 5.0) -> None:
        """Publish `offline` (retained, waits for its PUBACK), DISCONNECT (no Will), join."""
        deadline = time.monotonic() + timeout
        self._stopping = True
        client = self._live_client()
        if client is not None:
            status = wire.Status(state="offline", boot_id=self.boot_id,
                                     session=self._session, ts=self._clock(), reason=reason)
            info = self._publish(client, "status", wire.encode(status), retain=True)
            try:
                if info is not None:
                    info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError) as exc:
                log.warning("offline status not confirmed by the broker: %s", exc)
        self._loop.stop_event.set()
        self._wake.set()
        self._loop.stop(max(0.1, deadline - time.monotonic()))

    def publish_heartbeat(self, hb: wire.Heartbeat) -> bool:
        """Send `hb` retained; False (and not queued) when offline or over the payload cap."""
        try:
            data = wire.encode(hb, limit=self.config.max_payload_bytes)
        except wire.PayloadTooLarge as exc:
            with self._stats_lock:
                self.stats.oversize_dropped += 1
            self._throttle.warning("oversize-heartbeat", "heartbeat not sent: %s", exc)
            return False
        client = self._live_client()
        if client is None or self._publish(client, "heartbeat", data, retain=True) is None:
            return False
        with self._stats_lock:
            self.stats.heartbeats_sent += 1
        return True

    def flush_events(self) -> int:
        """Send queued events not yet in flight, in order; safe from any thread."""
        if self._live_client() is None:
            return 0
        try:
            sent = self._outbox.flush(self._send_event)
        except Exception as exc:  # e.g. a disk error: callers (probe loop, network thread) go on
            self._throttle.warning("flush", "could not send queued events: %s", exc)
            return 0
        resends, oversize = self._outbox.take_counts()
        with self._stats_lock:
            self.stats.events_sent += sent
            self.stats.event_resends += resends
            self.stats.oversize_dropped += oversize
        return sent

    def drop_connection(self) -> None:
        """Drop the socket without DISCONNECT, so the broker publishes our Will (`lost`).

        For a loop that crashed: the station must not look cleanly stopped."""
        with self._lock:
            client = self._client
        if client is not None:
            _shut_socket(client)

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def session(self) -> int:
        return self._session

    def healthy(self) -> bool:
        """The supervisor thread runs and has looked at the connection recently."""
        return self._loop.healthy()

    # --- supervisor thread -----------------------------------------------------

    def _one_connection(self) -> float:
        """One connect attempt and its life; returns how long it was connected (s)."""
        attempt = self._session + 1
        self._ended.clear()
        node = self._nodes.current
        try:
            client = self._new_client(attempt)
            client.connect(node.host, node.port, self._broker.keepalive_s)
        except (OSError, ValueError) as exc:
            next_node = self._next_node()
            self._throttle.warning("connect", "cannot connect to the broker at %s: %s "
                                   "(retrying with backoff%s)", node.url, exc, next_node)
            return 0.0
        with self._lock:
            self._client = client
        client.user_data_set(attempt)
        client.loop_start()
        try:
            return self._watch(client, node.url)
        finally:
            if not self._loop.stop_event.is_set():
                self._next_node()
            self._teardown(client)
            if self._session == attempt:  # this attempt did connect
                with self._stats_lock:
                    self.stats.disconnects += 1

    def _next_node(self) -> str:
        """Move to the next node of the list; a log suffix naming it, if there is another."""
        node = self._nodes.move_on()
        return f", next: {node.url}" if self._nodes.several else ""

    def _watch(self, client: mqtt.Client, url: str) -> float:
        # The connection is over when paho reports the disconnect or its socket is
        # gone (paho closes it on any socket error, CONNACK refusals included).
        deadline = time.monotonic() + self._broker.connect_timeout_s
        connected_at: float | None = None
        while (not self._ended.is_set() and client.socket() is not None
               and not self._loop.stop_event.is_set()):
            self._loop.tick()
            now = time.monotonic()
            if self._connected:
                connected_at = connected_at or now
                self.flush_events()  # catches ack timeouts and anything nobody flushed
            elif connected_at is not None:
                break
            elif now > deadline:
                log.warning("no CONNACK from %s within %.0f s; reconnecting", url,
                            self._broker.connect_timeout_s)
                break
            self._wake.wait(_WATCH_INTERVAL_S)
            self._wake.clear()
        return 0.0 if connected_at is None else time.monotonic() - connected_at

    def _teardown(self, client: mqtt.Client) -> None:
        with self._lock:
            self._connected = False
        if self._loop.stop_event.is_set():
            client.disconnect()  # DISCONNECT after whatever is queued: the Will is discarded
        else:
            _shut_socket(client)
        # paho 2.2: its thread clears its own handle when it ends by itself (no
        # reconnect_on_failure), between loop_stop's check and its join: it has ended.
        with contextlib.suppress(AttributeError):
            client.loop_stop()

    # --- paho client and callbacks (network thread) ----------------------------

    def _new_client(self, session: int) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self._client_id,
                             clean_session=True, protocol=mqtt.MQTTv311,
                             reconnect_on_failure=False)
        client.connect_timeout = self._broker.connect_timeout_s
        # ts: when this connection began, before its birth. A Will of an earlier boot that
        # a broker node publishes late (after this boot came back elsewhere) is older
        # than the current birth, and the collector ignores it.
        will = wire.Status(state="lost", boot_id=self.boot_id, session=session, ts=self._clock())
        client.will_set(self._topic["status"], wire.encode(will), qos=1, retain=True)
        if self._broker.username:
            client.username_pw_set(self._broker.username, self._read_password())
        if self._broker.tls:
            b = self._broker
            client.tls_set(ca_certs=_str(b.ca_file), certfile=_str(b.cert_file),
                           keyfile=_str(b.key_file))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _read_password(self) -> str | None:
        path = self._broker.password_file
        if path is None:
            return None
        try:  # read at every attempt so a rotated password applies without a restart
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise OSError(f"cannot read broker password_file {path}: {exc.strerror}") from None

    def _on_connect(self, client: mqtt.Client, session: int, _flags: Any,
                    reason: Any, _props: Any) -> None:
        try:
            if reason.is_failure:
                self._throttle.warning("refused", "broker refused the connection: %s (check "
                                       "username, password_file and the broker ACL)", reason)
                return
            self._outbox.restart()  # before `connected`: no flush may use the old cursor
            with self._lock:
                self._session = session
                self._connected = True
            with self._stats_lock:
                self.stats.connects += 1
            # Subscribe before the birth: whoever reacts to the birth (an ack, a
            # report command) finds the subscription in place. QoS 0: in a clean
            # session QoS 1 delivery adds nothing we rely on (a lost ack means a
            # resend after ack_timeout_s, a retained status comes on subscribe),
            # while on a NATS cluster each QoS 1 subscription is a replicated
            # JetStream consumer that a dead node's failover must re-elect or
            # delete first (tests/bench/failover.py; docs/ha-failover.md).
            client.subscribe([(self._topic[k], 0) for k in ("ack", "command", "status")])
            self._publish_birth(client)
            self.flush_events()
        except Exception:
            log.exception("error handling CONNACK")

    def _on_disconnect(self, client: mqtt.Client, _userdata: Any, _flags: Any,
                       reason: Any, _props: Any) -> None:
        with self._lock:
            current = client is self._client
            was_connected = self._connected and current
            if was_connected:
                self._connected = False
        if was_connected and not self._stopping:
            log.warning("lost the broker connection: %s", reason)
        if current:
            self._ended.set()
        self._wake.set()

    def _on_message(self, client: mqtt.Client, _userdata: Any, msg: Any) -> None:
        live = self._connected and not self._stopping
        outcome = self._inbound.handle(msg.topic, bytes(msg.payload), live=live)  # never raises
        self._count_inbound(outcome)
        if outcome == "ack":
            self.flush_events()  # the window has room again; never raises

    def _count_inbound(self, outcome: InboundOutcome) -> None:
        # Several threads count (probe loop, network thread, supervisor): keep sums exact.
        with self._stats_lock:
            s = self.stats
            if outcome == "ack":
                s.acks += 1
            elif outcome == "command":
                s.commands += 1
            elif outcome == "bad":
                s.bad_messages += 1
            elif outcome == "rebirth":
                s.rebirths += 1

    # --- publishing helpers ----------------------------------------------------

    def _publish_birth(self, client: mqtt.Client) -> None:
        birth = wire.Status(state="online", boot_id=self.boot_id, session=self._session,
                                ts=self._clock())
        self._publish(client, "status", wire.encode(birth), retain=True)

    def _republish_birth(self) -> None:
        client = self._live_client()
        if client is not None:
            self._publish_birth(client)

    def _send_event(self, event: JournaledEvent) -> bool:
        client = self._live_client()
        return client is not None and self._publish(client, "event", event.payload) is not None

    def _publish(self, client: mqtt.Client, kind: wire.MessageKind, data: bytes,
                 retain: bool = False) -> mqtt.MQTTMessageInfo | None:
        info = client.publish(self._topic[kind], data, qos=1, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self._throttle.warning(f"publish-{kind}", "could not publish %s: %s", kind,
                                   mqtt.error_string(info.rc))
            return None
        return info

    def _live_client(self) -> mqtt.Client | None:
        with self._lock:
            return self._client if self._connected else None


def _shut_socket(client: mqtt.Client) -> None:
    # shutdown (not close) wakes paho's select with EOF, so its thread notices at once.
    sock = client.socket()
    try:
        if isinstance(sock, socket.socket):  # includes ssl.SSLSocket
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already gone


def _str(path: object) -> str | None:
    return None if path is None else str(path)
