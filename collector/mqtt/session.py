"""The collector's MQTT session: the only paho import on the collector side.

paho runs in its "external event loop" mode: the socket is watched by the
asyncio loop (`add_reader`/`add_writer`) and `loop_read`/`loop_write`/
`loop_misc` are called from loop callbacks, so `on_message` runs on the loop
thread and applies each message to the Fleet inline — no per-message thread or
task hand-off (measured: that hand-off halves throughput). Only the blocking
TCP/TLS connect runs in a worker thread; paho's socket callbacks fired there
are marshalled back to the loop.

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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from collector.app_keys import Health
from collector.config import CollectorConfig
from collector.dispatch import Dispatcher
from collector.stats import IngestStats
from pantau.backoff import Backoff
from pantau.log_throttle import LogThrottle
from pantau.wire import Ack, encode, subscription_filters, topic_for

log = logging.getLogger(__name__)

READ_BURST: Final = 2000  # packets per readable callback, so HTTP and timers still get turns
READ_CHUNK: Final = 65536  # bytes per recv: many packets per system call, not ~4 calls per packet
RETAINED_QUIET_S: Final = 2.0
TICK_S: Final = 1.0  # session liveness check and paho keepalive (loop_misc) period
CLOSE_GRACE_S: Final = 1.0  # for a DISCONNECT to close the socket before we shut it down
_OK: Final = mqtt.MQTT_ERR_SUCCESS


class IngestError(Exception):
    """The MQTT session cannot be set up from this configuration."""


def subscriptions(config: CollectorConfig) -> list[tuple[str, int]]:
    root, sites = config.topic_root, config.sites
    qos1 = subscription_filters(("status", "event"), sites, root)
    qos0 = subscription_filters(("heartbeat",), sites, root)
    return [(f, 1) for f in qos1] + [(f, 0) for f in qos0] + [(sync_topic(config), 1)]


def sync_topic(config: CollectorConfig) -> str:
    client_id = str(config.broker.client_id).replace("/", "_").replace("+", "_").replace("#", "_")
    return f"{config.topic_root}/collector/{client_id}/sync"


class _BufferedClient(mqtt.Client):
    """paho's client, made cheaper per message at fleet scale.

    Reads: paho asks for 1 byte (command), 1 byte per length byte, then the
    rest: about four recv system calls per PUBLISH. Here one recv of
    READ_CHUNK fills a user-space buffer the packet reader is served from.
    Those bytes are invisible to epoll: whoever drives the socket must keep
    calling loop_read while `buffered()` says so (see _SocketWatch).
    Delivery: straight to on_message (see _handle_on_message).
    Measured (tests/bench/collector.py, 10k stations): collector / bare paho
    0.51 before, 0.69 with the buffer, 0.89 with direct delivery as well.
    Both override private methods of paho 2.x (`_sock_recv`, which all its
    reads go through, TLS included: its SSLWant* mapping stays in the parent;
    `_handle_on_message`): re-check them when upgrading paho.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0
        self._rsock: object = None  # the socket _rbuf came from

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rsock is not self._sock:  # a new connection: the old one's bytes are void
            self._rbuf, self._rpos, self._rsock = b"", 0, self._sock
        buf, pos = self._rbuf, self._rpos
        if pos >= len(buf):
            buf = super()._sock_recv(max(bufsize, READ_CHUNK))  # b"" (EOF) passes through
            if len(buf) <= bufsize:
                self._rbuf, self._rpos = b"", 0
                return buf
            pos = 0
        end = pos + bufsize
        self._rbuf, self._rpos = buf, end
        return buf[pos:end]  # may be short: paho reads on for the rest

    def _handle_on_message(self, message: mqtt.MQTTMessage) -> None:
        # paho's version decodes the topic, runs its per-topic callback matcher
        # and takes two locks per message. We add no per-topic callbacks and
        # call paho from the loop thread only, and our on_message catches every
        # exception itself: call it directly.
        on_message = self.on_message
        if on_message is not None:
            on_message(self, self._userdata, message)

    def buffered(self) -> int:
        """Bytes already read from the socket that paho has not consumed yet."""
        return len(self._rbuf) - self._rpos if self._rsock is self._sock else 0


def make_client(config: CollectorConfig) -> mqtt.Client:
    b = config.broker
    client = _BufferedClient(
        CallbackAPIVersion.VERSION2, client_id=b.client_id or "",
        clean_session=False, protocol=mqtt.MQTTv311,
    )
    if b.username is not None:
        client.username_pw_set(b.username, _read_secret(b.password_file))
    if b.tls:
        client.tls_set(
            ca_certs=_opt(b.ca_file), certfile=_opt(b.cert_file), keyfile=_opt(b.key_file)
        )
    client.connect_timeout = b.connect_timeout_s
    client.max_inflight_messages_set(100)  # acks in flight; the rest wait in paho's queue
    client.connect_async(b.host, b.port, keepalive=b.keepalive_s)
    return client


def _opt(value: object | None) -> str | None:
    return None if value is None else str(value)


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
        self._client = make_client(config)
        self._watch = _SocketWatch(self._client, self._socket_gone)
        self._install_callbacks()
        self._stopping = False
        self._sub_mid: int | None = None
        self._last_retained = 0.0
        self._fallback: asyncio.Task[None] | None = None
        self._attempt = 0  # tags callbacks, so a late one cannot end the next session
        self._over: asyncio.Future[str] | None = None  # why the current session ended
        self._connack = False
        self._connecting: asyncio.Future[Any] | None = None
        self._deferred_acks: list[tuple[str, bytes]] = []

    def _install_callbacks(self) -> None:
        c = self._client
        c.on_connect, c.on_disconnect = self._on_connect, self._on_disconnect
        c.on_subscribe, c.on_message = self._on_subscribe, self._on_message
        self._watch.install()

    # --- session loop --------------------------------------------------------

    async def run(self) -> None:
        """Connect, and reconnect with capped, jittered backoff, until `stop()`."""
        self._watch.bind(asyncio.get_running_loop())
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
        connecting = asyncio.get_running_loop().run_in_executor(None, self._client.reconnect)
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
            why = None if self._over.done() else self._watch.check()
            if why is not None:
                self._session_over(self._attempt, why)
                self._throttle.warning("lost", "lost MQTT broker %s: %s; reconnecting",
                                       self._config.broker.url, why)

    async def _close(self, grace_s: float) -> None:
        """Leave no socket behind: DISCONNECT, and shut it down if that does not close it."""
        self._set_connected(False)
        if self._connecting is not None and not self._connecting.done():
            return  # the connect thread still owns paho; _discard closes what it opens
        if self._client.socket() is not None:
            self._client.disconnect()
            self._watch.want_write()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._watch.gone.wait(), grace_s)
        if self._client.socket() is not None:
            if self._stopping:
                log.warning("broker did not close the session within %gs", grace_s)
            self._watch.force_close()
        self._watch.unwatch()

    def _discard(self, connecting: asyncio.Future[Any]) -> None:
        if not connecting.cancelled() and connecting.exception() is None:
            self._watch.force_close()
            self._watch.unwatch()

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
        payload = encode(Ack(boot_id=boot_id, seq=seq))
        if self._connecting is not None and not self._connecting.done():
            # paho is not thread-safe: a publish racing reconnect() in the connect
            # thread can leave the CONNECT queued with no write ever scheduled.
            self._deferred_acks.append((topic, payload))
            return
        self._client.publish(topic, payload, qos=1)

    def _publish_deferred_acks(self) -> None:
        acks, self._deferred_acks = self._deferred_acks, []
        for topic, payload in acks:
            self._client.publish(topic, payload, qos=1)

    # --- paho callbacks (loop thread) ----------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:  # paho closes the socket next and reports the disconnect
            hint = " (check username and password_file)" if "auth" in str(rc).lower() else ""
            self._throttle.warning("refused", "MQTT broker refused the connection: %s%s", rc, hint)
            return
        log.info("connected to %s (session present: %s)", self._config.broker.url,
                 flags.session_present)
        self._backoff.reset()
        self._connack = True
        self._set_connected(True)
        try:
            _, self._sub_mid = client.subscribe(subscriptions(self._config))
        except Exception:  # without the subscription this session is useless: start over
            log.exception("cannot subscribe on %s", self._config.broker.url)
            self._session_over(self._attempt, "subscribe failed")

    def _on_subscribe(self, client: mqtt.Client, _u: Any, mid: int, codes: Any, _p: Any) -> None:
        if mid != self._sub_mid:
            return
        for (topic, _qos), code in zip(subscriptions(self._config), codes, strict=False):
            if code.is_failure:
                log.error("broker refused subscription %s: %s (check the ACL)", topic, code)
        if not self._health.retained_loaded:
            self._last_retained = time.monotonic()
            client.publish(self._sync_topic, b"sync", qos=1)
            self._fallback = asyncio.get_running_loop().create_task(self._retained_fallback())

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        # Tagged with the attempt now: if paho calls this off the loop thread,
        # it runs later, when a newer session may already be up.
        self._watch.on_loop(self._lost, self._attempt, rc)

    def _lost(self, attempt: int, rc: Any) -> None:
        if not self._stopping and attempt == self._attempt:
            self._throttle.warning("lost", "lost MQTT broker %s: %s; reconnecting",
                                   self._config.broker.url, rc)
        self._session_over(attempt, f"disconnected: {rc}")

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._watch.delivered += 1
        if msg.retain:
            self._last_retained = time.monotonic()
        try:
            topic = msg.topic
            if topic == self._sync_topic:
                self._retained_done("sync marker received")
                return
            self._dispatcher.handle(topic, bytes(msg.payload), self._clock())
        except UnicodeDecodeError:
            self._stats.reject("topic")
        except Exception:  # a bug must cost one message, never the session
            log.exception("failed to apply a message on %r", msg._topic[:200])

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


class _SocketWatch:
    """Drives paho's socket from the asyncio loop (paho's external-loop mode).

    paho's socket callbacks are hints, not the truth: `check()` (called every
    TICK_S) compares with `client.socket()` and repairs a lost open or
    register-write callback, and the writer unregisters itself when paho has
    nothing left to send.
    """

    def __init__(self, client: mqtt.Client, on_gone: Callable[[], None]) -> None:
        self._client = client
        self._on_gone = on_gone  # the watched socket was closed
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._sock: Any = None
        self._fd: int | None = None
        self._writing = False
        self._pending: Callable[[], int] | None = None  # TLS: bytes decrypted but unread
        self._buffered: Callable[[], int] = getattr(client, "buffered", lambda: 0)
        self._poll = select.poll()
        self.gone = asyncio.Event()  # set while no socket is watched
        self.gone.set()
        self.delivered = 0  # PUBLISH packets handed to on_message (see _readable)

    def install(self) -> None:
        c = self._client
        c.on_socket_open = lambda _c, _u, sock: self.on_loop(self._watch, sock)
        c.on_socket_close = lambda _c, _u, sock: self.on_loop(self._closed, sock)
        c.on_socket_register_write = lambda _c, _u, sock: self.on_loop(self._register_write, sock)
        c.on_socket_unregister_write = lambda _c, _u, sock: self.on_loop(self._unregister_write,
                                                                          sock)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop, self._loop_thread = loop, threading.get_ident()

    def on_loop(self, fn: Callable[..., None], *args: Any) -> None:
        # paho calls back from the connect thread too; loop APIs are not thread-safe.
        assert self._loop is not None
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    def check(self) -> str | None:
        """Run paho's timers; say why the session is over if its socket is gone."""
        sock = self._client.socket()
        if sock is None:
            return "socket closed without a disconnect callback"
        if sock is not self._sock:
            self._watch(sock)
        self.want_write()
        try:
            rc = self._client.loop_misc()  # keepalive: PINGREQ, or close a silent link
        except Exception:  # a callback raised inside paho
            log.exception("MQTT keepalive check failed")
            return "keepalive check failed"
        return None if rc == _OK else f"keepalive: {mqtt.error_string(rc)}"

    def _watch(self, sock: Any) -> None:
        assert self._loop is not None
        current = self._client.socket()
        if current is None or current is not sock:
            return  # closed again before we got here
        self.unwatch()  # first: a reused fd number must not keep a stale registration
        self._sock, self._fd = current, current.fileno()
        self._pending = getattr(sock, "pending", None)
        self._poll = select.poll()
        self._poll.register(self._fd, select.POLLIN)
        self._loop.add_reader(self._fd, self._readable)
        self.gone.clear()
        self.want_write()

    def _closed(self, sock: Any) -> None:
        if sock is self._sock:
            self.unwatch()
            self._on_gone()

    def unwatch(self) -> None:
        if self._fd is not None and self._loop is not None:
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
        self._sock, self._fd, self._writing = None, None, False
        self.gone.set()

    def force_close(self) -> None:
        """Close a socket paho does not let go of: shut it down and let paho read
        the EOF, so it closes it and reports the disconnect its usual way."""
        sock = self._client.socket()
        if sock is None:
            return
        with contextlib.suppress(OSError):
            getattr(sock, "shutdown", lambda _how: None)(socket.SHUT_RDWR)
        try:
            for _ in range(READ_BURST):
                if self._client.loop_read() != _OK or self._client.socket() is None:
                    break
        except Exception:  # a callback raised inside paho
            log.exception("error while closing the MQTT socket")
        if self._client.socket() is sock:
            sock.close()  # last resort; paho drops it on the next reconnect()

    def want_write(self) -> None:
        """Watch for writability if paho has packets queued."""
        if self._fd is not None and self._loop is not None and not self._writing \
                and self._client.want_write():
            self._loop.add_writer(self._fd, self._writable)
            self._writing = True

    def _register_write(self, sock: Any) -> None:
        if sock is self._sock:
            self.want_write()

    def _unregister_write(self, sock: Any) -> None:
        if sock is self._sock and self._fd is not None and self._loop is not None:
            self._loop.remove_writer(self._fd)
            self._writing = False

    def _writable(self) -> None:
        self._client.loop_write()
        # paho only says "unregister" if it said "register"; never spin on an
        # empty queue because a callback was skipped.
        if self._writing and not self._client.want_write():
            self._unregister_write(self._sock)

    def _readable(self) -> None:
        # paho reads one packet per loop_read; keep reading while input is
        # buffered so a busy socket does not cost one loop iteration per message.
        # loop_read says OK both for "read a packet" and "nothing there", so
        # after a delivered message just read on (an empty socket costs one
        # failed recv) and ask poll(), a syscall, only otherwise: polling after
        # every message cost ~15% of the ingest time.
        client = self._client
        for _ in range(READ_BURST):
            before = self.delivered
            if client.loop_read() != _OK or self._fd is None:
                return
            if self.delivered != before:
                continue
            if not self._unread():
                return
        if self._buffered() and self._loop is not None:
            # Burst over with packets in our buffer: epoll cannot see them, so
            # come back after the loop's other work instead of waiting for it.
            self._loop.call_soon(self._readable_if_watched, self._fd)

    def _readable_if_watched(self, fd: int | None) -> None:
        if fd is not None and fd == self._fd:
            self._readable()

    def _unread(self) -> bool:
        """Input waiting: in our read buffer, in TLS's, or in the kernel's."""
        return bool(self._buffered() or (self._pending is not None and self._pending())
                    or self._poll.poll(0))
