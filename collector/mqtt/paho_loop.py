"""paho-mqtt driven from the asyncio loop: the collector's only paho import.

paho runs in its "external event loop" mode: the socket is watched by the
asyncio loop (`add_reader`/`add_writer`) and `loop_read`/`loop_write`/
`loop_misc` are called from loop callbacks, so each message reaches the
session's callback on the loop thread, inline — no per-message thread or task
hand-off (measured: that hand-off halves throughput). Only the blocking
TCP/TLS connect runs in a worker thread; paho's socket callbacks fired there
are marshalled back to the loop.

`PahoLink` is the small typed surface the session uses: connect, subscribe,
publish, disconnect, and callbacks with plain Python values.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import select
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from pantau.broker_config import BrokerConfig, BrokerEndpoint

log = logging.getLogger(__name__)

READ_BURST: Final = 2000  # packets per readable callback, so HTTP and timers still get turns
READ_CHUNK: Final = 65536  # bytes per recv: many packets per system call, not ~4 calls per packet
_OK: Final = mqtt.MQTT_ERR_SUCCESS


@dataclass(frozen=True, slots=True)
class LinkCallbacks:
    """What the link reports. All but `disconnected` run on the loop thread."""

    connected: Callable[[bool], None]  # CONNACK accepted; the argument: session present
    refused: Callable[[str], None]  # CONNACK refused, with the broker's reason
    subscribed: Callable[[int, list[str | None]], None]  # SUBACK mid; per filter a refusal or None
    # May run on the connect thread: tag what you need now, then use `PahoLink.on_loop`.
    disconnected: Callable[[str], None]
    socket_gone: Callable[[], None]  # the watched socket was closed
    message: Callable[[str, bytes, bool], None]  # topic, payload, retained
    undecodable_topic: Callable[[], None]  # a topic that is not UTF-8
    # A QoS 1 message awaits its PUBACK (the first since the last release, or some are left
    # after one): commit now. The broker sends at most its in-flight window (Mosquitto's
    # max_inflight_messages, 20 by default) un-PUBACKed, so waiting for more would stall it.
    unacked: Callable[[], None] = lambda: None


class PahoLink:
    """One persistent MQTT 3.1.1 session (clean_session=False) driven by the loop."""

    def __init__(self, broker: BrokerConfig, password: str | None,
                 callbacks: LinkCallbacks) -> None:
        self._broker = broker
        self._callbacks = callbacks
        self._client = _make_client(broker, password)
        self._watch = _SocketWatch(self._client, callbacks.socket_gone)
        c = self._client
        c.on_connect, c.on_disconnect = self._on_connect, self._on_disconnect
        c.on_subscribe, c.on_message = self._on_subscribe, self._on_message
        self._watch.install()
        # QoS 1 PUBLISHes of this connection not PUBACKed yet, in arrival order.
        self._unacked: collections.deque[int] = collections.deque()
        self._connection = 0  # counts CONNACKs: a mid means nothing on the next connection
        self._received = 0  # QoS 1 PUBLISHes of this connection so far

    @property
    def gone(self) -> asyncio.Event:
        """Set while no socket is watched."""
        return self._watch.gone

    @property
    def delivered(self) -> int:
        """PUBLISH packets handed to the message callback so far."""
        return self._watch.delivered

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._watch.bind(loop)

    def on_loop(self, fn: Callable[..., None], *args: Any) -> None:
        """Run `fn(*args)` on the loop thread (now, if this is it)."""
        self._watch.on_loop(fn, *args)

    def target(self, node: BrokerEndpoint) -> None:
        """The node the next `connect` goes to; only while no connect is in flight."""
        if (self._client.host, self._client.port) != (node.host, node.port):
            self._client.connect_async(node.host, node.port, keepalive=self._broker.keepalive_s)

    def connect(self) -> None:
        """The blocking TCP/TLS connect and CONNECT: run it in a worker thread, and no
        other call of this link until it returns (paho is not thread-safe)."""
        self._client.reconnect()

    def is_open(self) -> bool:
        return self._client.socket() is not None

    def subscribe(self, filters: list[tuple[str, int]]) -> int:
        """SUBSCRIBE to (filter, qos) pairs; the SUBACK's mid."""
        rc, mid = self._client.subscribe(filters)
        if mid is None:
            raise OSError(f"cannot subscribe: {mqtt.error_string(rc)}")
        return mid

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self._client.publish(topic, payload, qos=qos)

    def disconnect(self) -> None:
        """Queue a DISCONNECT (the broker keeps the session) and get it written."""
        self._client.disconnect()
        self._watch.want_write()

    def check(self) -> str | None:
        """Run paho's timers (keepalive); say why the session is over if it is."""
        return self._watch.check()

    def force_close(self) -> None:
        self._watch.force_close()

    def unwatch(self) -> None:
        self._watch.unwatch()

    # --- paho callbacks -------------------------------------------------------

    def durable_mark(self) -> tuple[int, int]:
        """Where this connection's QoS 1 messages stand now; `release` it once all that was
        received by then is committed."""
        return self._connection, self._received

    def release(self, mark: tuple[int, int]) -> None:
        """PUBACK, in arrival order (MQTT-4.6.0-2), what was received before `mark`. A
        message never PUBACKed is the broker's to send again: a collector killed before its
        commit loses nothing, although another replica's ack made the agent forget it."""
        connection, received = mark
        if connection != self._connection:
            return  # the broker sends those again on this connection
        ackable = len(self._unacked) - (self._received - received)
        for _ in range(ackable):
            self._client.ack(self._unacked.popleft(), 1)
        if ackable > 0:
            self._watch.want_write()
        if self._unacked:  # arrived during that commit: they need one of their own
            self._callbacks.unacked()

    def _on_connect(self, _c: mqtt.Client, _u: Any, flags: Any, rc: Any, _p: Any) -> None:
        self._connection += 1
        self._unacked.clear()
        self._received = 0
        if rc.is_failure:  # paho closes the socket next and reports the disconnect
            self._callbacks.refused(str(rc))
        else:
            self._callbacks.connected(bool(flags.session_present))

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, mid: int, codes: Any, _p: Any) -> None:
        self._callbacks.subscribed(mid, [str(c) if c.is_failure else None for c in codes])

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self._callbacks.disconnected(str(rc))

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._watch.delivered += 1
        if msg.qos == 1:
            self._unacked.append(msg.mid)
            self._received += 1
            if len(self._unacked) == 1:
                self._callbacks.unacked()
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            self._callbacks.undecodable_topic()
            return
        self._callbacks.message(topic, bytes(msg.payload), msg.retain)


def _make_client(b: BrokerConfig, password: str | None) -> mqtt.Client:
    client = _BufferedClient(
        CallbackAPIVersion.VERSION2, client_id=b.client_id or "",
        clean_session=False, protocol=mqtt.MQTTv311, manual_ack=True,
    )
    if b.username is not None:
        client.username_pw_set(b.username, password)
    if b.tls:
        client.tls_set(
            ca_certs=_opt(b.ca_file), certfile=_opt(b.cert_file), keyfile=_opt(b.key_file)
        )
    client.connect_timeout = b.connect_timeout_s
    # No window: with one, paho rescans its whole queue of waiting messages on every
    # PUBACK (O(n) each), and a burst of 10k acks drained at ~3k/s, holding ~600 B each.
    client.max_inflight_messages_set(0)
    client.connect_async(b.host, b.port, keepalive=b.keepalive_s)
    return client


def _opt(value: object | None) -> str | None:
    return None if value is None else str(value)


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
