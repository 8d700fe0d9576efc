"""A minimal asyncio MQTT 3.1.1 client for load tests: CONNECT (with Will), PUBLISH, abort.

Thousands of paho clients need thousands of threads; one asyncio loop holds
thousands of these sockets. Only what the load scripts need: QoS 0/1
publishes (PUBACKs are read and dropped), no subscriptions, no TLS.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass


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
        self._next_id = self._next_id % 65535 + 1
        self.writer.write(publish_packet(topic, payload, qos, retain, self._next_id))

    async def drain_until_closed(self) -> None:
        """Read (and drop) PUBACKs until the broker closes the connection."""
        while await self.reader.read(65536):
            pass

    def abort(self) -> None:
        """Drop the TCP connection without DISCONNECT: the broker publishes our Will."""
        self.writer.transport.abort()

    async def disconnect(self) -> None:
        self.writer.write(b"\xe0\x00")
        self.writer.close()
