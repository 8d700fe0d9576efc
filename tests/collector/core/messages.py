"""Real protocol messages for the collector core tests.

Every builder encodes its Struct and decodes it again through
`wire.decode_message` with the matching topic, so the tests feed the
fleet exactly what the ingest would after parsing a wire payload.
"""

from __future__ import annotations

from typing import cast

from pantau import wire

SITE = "medan-baru"
# Wire times lie in [2000, 2100) (wire.Timestamp); tests count from here.
T0 = 1_700_000_000.0


def roundtrip(site: str, station: str, kind: wire.MessageKind, msg: wire.Payload) -> object:
    _, decoded = wire.decode_message(
        wire.topic_for(site, station, kind), wire.encode(msg)
    )
    return decoded


def status(
    state: wire.StationLinkState, boot: str = "boot-a", session: int = 1,
    ts: float | None = T0 + 1000.0, reason: str = "", *, site: str = SITE, station: str = "st-01",
) -> wire.Status:
    msg = wire.Status(state=state, boot_id=boot, session=session, ts=ts, reason=reason)
    return cast(wire.Status, roundtrip(site, station, "status", msg))


def component(
    cid: str, status: wire.ComponentStatus = "ok", *, required: bool = True,
    since: float = T0 + 900.0, kind: str = "usb",
) -> wire.Component:
    return wire.Component(id=cid, kind=kind, required=required, status=status, since=since)


def host(
    hostname: str = "pc-01", *, cpu: float = 0.25, temp: float | None = 54.0,
    disks: tuple[tuple[str, float, int], ...] = (("/", 0.61, 51234567890),),
) -> wire.Host:
    return wire.Host(
        hostname=hostname, boot_time=T0 + 500.0, cpu_ratio=cpu, load1=0.4, memory_used_ratio=0.5,
        swap_used_ratio=0.0, temperature_c=temp,
        disks=[wire.Disk(mount=m, used_ratio=u, free_bytes=f) for m, u, f in disks],
    )


def heartbeat(
    station: str = "st-01", seq: int = 1, ts: float = T0 + 1000.0, *, site: str = SITE,
    boot: str = "boot-a", interval_s: float = 15.0, version: str = "0.1.0",
    components: list[wire.Component] | None = None,
    checks: list[wire.Check] | None = None,
    unexpected: list[wire.UnexpectedDevice] | None = None,
    host_info: wire.Host | None = None,
    agent: wire.AgentInfo | None = None,
) -> wire.Heartbeat:
    msg = wire.Heartbeat(
        v=1, site=site, station=station, seq=seq, boot_id=boot, ts=ts, interval_s=interval_s,
        agent=agent or wire.AgentInfo(version=version, uptime_s=10.0), host=host_info,
        components=components if components is not None else [component("fingerprint")],
        checks=checks or [], unexpected=unexpected or [],
    )
    return cast(wire.Heartbeat, roundtrip(site, station, "heartbeat", msg))


def event(
    seq: int, station: str = "st-01", boot: str = "boot-a", *, site: str = SITE,
    ts: float = T0 + 1000.0, comp: str = "fingerprint",
    old: wire.ComponentStatus = "ok", new: wire.ComponentStatus = "missing",
) -> wire.Event:
    msg = wire.Event(
        v=1, site=site, station=station, boot_id=boot, seq=seq, ts=ts, component=comp,
        from_=old, to=new,
    )
    return cast(wire.Event, roundtrip(site, station, "event", msg))
