"""Real protocol messages for the collector core tests.

Every builder encodes its Struct and decodes it again through
`protocol.decode_message` with the matching topic, so the tests feed the
fleet exactly what the ingest would after parsing a wire payload.
"""

from __future__ import annotations

from typing import cast

from agent import protocol

SITE = "medan-baru"


def roundtrip(site: str, station: str, kind: protocol.MessageKind, msg: protocol.Payload) -> object:
    _, decoded = protocol.decode_message(
        protocol.topic_for(site, station, kind), protocol.encode(msg)
    )
    return decoded


def status(
    state: protocol.StationLinkState, boot: str = "boot-a", session: int = 1,
    ts: float | None = 1000.0, reason: str = "", *, site: str = SITE, station: str = "st-01",
) -> protocol.Status:
    msg = protocol.Status(state=state, boot_id=boot, session=session, ts=ts, reason=reason)
    return cast(protocol.Status, roundtrip(site, station, "status", msg))


def component(
    cid: str, status: protocol.ComponentStatus = "ok", *, required: bool = True,
    since: float = 900.0, kind: str = "usb",
) -> protocol.Component:
    return protocol.Component(id=cid, kind=kind, required=required, status=status, since=since)


def host(
    hostname: str = "pc-01", *, cpu: float = 0.25, temp: float | None = 54.0,
    disks: tuple[tuple[str, float, int], ...] = (("/", 0.61, 51234567890),),
) -> protocol.Host:
    return protocol.Host(
        hostname=hostname, boot_time=500.0, cpu_ratio=cpu, load1=0.4, memory_used_ratio=0.5,
        swap_used_ratio=0.0, temperature_c=temp,
        disks=[protocol.Disk(mount=m, used_ratio=u, free_bytes=f) for m, u, f in disks],
    )


def heartbeat(
    station: str = "st-01", seq: int = 1, ts: float = 1000.0, *, site: str = SITE,
    boot: str = "boot-a", interval_s: float = 15.0, version: str = "0.1.0",
    components: list[protocol.Component] | None = None,
    checks: list[protocol.Check] | None = None,
    unexpected: list[protocol.UnexpectedDevice] | None = None,
    host_info: protocol.Host | None = None,
) -> protocol.Heartbeat:
    msg = protocol.Heartbeat(
        v=1, site=site, station=station, seq=seq, boot_id=boot, ts=ts, interval_s=interval_s,
        agent=protocol.AgentInfo(version=version, uptime_s=10.0), host=host_info,
        components=components if components is not None else [component("fingerprint")],
        checks=checks or [], unexpected=unexpected or [],
    )
    return cast(protocol.Heartbeat, roundtrip(site, station, "heartbeat", msg))


def event(
    seq: int, station: str = "st-01", boot: str = "boot-a", *, site: str = SITE,
    ts: float = 1000.0, comp: str = "fingerprint",
    old: protocol.ComponentStatus = "ok", new: protocol.ComponentStatus = "missing",
) -> protocol.Event:
    msg = protocol.Event(
        v=1, site=site, station=station, boot_id=boot, seq=seq, ts=ts, component=comp,
        from_=old, to=new,
    )
    return cast(protocol.Event, roundtrip(site, station, "event", msg))
