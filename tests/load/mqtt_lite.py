"""A minimal asyncio MQTT 3.1.1 client for load tests: CONNECT (with Will), PUBLISH,
SUBSCRIBE, abort.

Thousands of paho clients need thousands of threads; one asyncio loop holds
thousands of these sockets. Only what the load scripts need: QoS 0/1
publishes (PUBACKs and SUBACKs are read and dropped), QoS 1 subscriptions
(each message PUBACKed and handed to a callback), no TLS.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from dataclasses import dataclass

OnMessage = Callable[[str, bytes], None]
_PUBLISH, _PUBACK = 0x30, 0x40


class MqttRefused(Exception):
    """The broker answered CONNECT with a non-zero return code (or not at all)."""


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(data: bytes) -> bytes:
    return struct.pack("!H", len(data)) + data


def connect_packet(client_id: str, keepalive: int, will: tuple[str, bytes] | None,
                   username: str | None = None, password: str | None = None) -> bytes:
    flags, payload = 0x02, _field(client_id.encode())  # clean session
    if will is not None:
        flags |= 0x04 | 0x08 | 0x20  # Will, QoS 1, retained (like the agent's `lost`)
        payload += _field(will[0].encode()) + _field(will[1])
    if username is not None:
        flags |= 0x80
        payload += _field(username.encode())
    if password is not None:
        flags |= 0x40
        payload += _field(password.encode())
    body = _field(b"MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive) + payload
    return b"\x10" + _varint(len(body)) + body


def publish_packet(topic: str, payload: bytes, qos: int, retain: bool, packet_id: int) -> bytes:
    header = 0x30 | (qos << 1) | (1 if retain else 0)
    body = _field(topic.encode()) + (struct.pack("!H", packet_id) if qos else b"") + payload
    return bytes([header]) + _varint(len(body)) + body


@dataclass
class LiteConnection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    _next_id: int = 0

    @classmethod
    async def open(cls, host: str, port: int, client_id: str, *, keepalive: int = 0,
                   will: tuple[str, bytes] | None = None, timeout: float = 10.0) -> LiteConnection:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        conn = cls(reader, writer)
        try:
            writer.write(connect_packet(client_id, keepalive, will))
            connack = await asyncio.wait_for(reader.readexactly(4), timeout)
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            conn.abort()
            raise MqttRefused(f"no CONNACK: {exc!r}") from None
        if connack[0] != 0x20 or connack[3] != 0:
            conn.abort()
            raise MqttRefused(f"CONNACK {connack.hex()}")
        return conn

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.writer.write(publish_packet(topic, payload, qos, retain, self._packet_id()))

    def subscribe(self, topic: str) -> None:
        """QoS 1; the SUBACK is read and dropped by `drain_until_closed`."""
        body = struct.pack("!H", self._packet_id()) + _field(topic.encode()) + b"\x01"
        self.writer.write(b"\x82" + _varint(len(body)) + body)

    def _packet_id(self) -> int:
        self._next_id = self._next_id % 65535 + 1
        return self._next_id

    async def drain_until_closed(self, on_message: OnMessage | None = None) -> None:
        """Read until the broker closes the connection: PUBLISHes go to `on_message`
        (QoS 1 ones PUBACKed), everything else (PUBACK, SUBACK) is dropped."""
        try:
            while True:
                first, body = await self._read_packet()
                if first & 0xF0 == _PUBLISH:
                    self._take_publish(first, body, on_message)
        except asyncio.IncompleteReadError:
            return

    async def _read_packet(self) -> tuple[int, bytes]:
        first = (await self.reader.readexactly(1))[0]
        length, scale = 0, 1
        while True:
            byte = (await self.reader.readexactly(1))[0]
            length, scale = length + (byte & 0x7F) * scale, scale * 128
            if not byte & 0x80:
                return first, await self.reader.readexactly(length)

    def _take_publish(self, first: int, body: bytes, on_message: OnMessage | None) -> None:
        qos = (first >> 1) & 0x03
        (size,) = struct.unpack_from("!H", body)
        topic, rest = body[2:2 + size].decode(), body[2 + size:]
        if qos:
            self.writer.write(bytes([_PUBACK, 2]) + rest[:2])
            rest = rest[2:]
        if on_message is not None:
            on_message(topic, rest)

    def abort(self) -> None:
        """Drop the TCP connection without DISCONNECT: the broker publishes our Will."""
        self.writer.transport.abort()

    async def disconnect(self) -> None:
        self.writer.write(b"\xe0\x00")
        self.writer.close()
