"""A small fleet in a known state, built from real wire messages.

Every message is encoded to JSON and decoded through `wire.decode_message`
exactly as the ingest does, then applied to a real Fleet; events also go to a
real SQLite Store. Times are fixed so relative times and the golden file are
stable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import msgspec

from collector.fleet import Fleet
from collector.registry import load_registry
from collector.store import EventRow
from pantau import wire

NOW: Final = 1_732_900_000.0
REGISTRY: Final = Path(__file__).with_name("fleet.toml")
HOSTILE: Final = '<script>alert("x")</script> & "quotes"'
BOOT: Final = "b0000000-0000-4000-8000-000000000001"


def component(cid: str, status: str = "ok", since: float = NOW - 86400, detail: str = "",
              required: bool = True) -> dict[str, Any]:
    device = None
    if status in ("ok", "failed"):
        device = {"vid": "05ba", "pid": "000a", "serial": f"SN-{cid}", "bus": 1,
                  "port": "1-2", "speed": "high", "manufacturer": "Acme", "product": cid}
    return {"id": cid, "kind": "usb", "required": required, "status": status,
            "since": since, "detail": detail, "device": device}


def heartbeat(site: str, station: str, seq: int, ts: float,
              components: list[dict[str, Any]], unexpected: list[dict[str, Any]] | None = None
              ) -> dict[str, Any]:
    return {
        "v": 1, "site": site, "station": station, "seq": seq, "boot_id": BOOT, "ts": ts,
        "interval_s": 15.0, "agent": {"version": "0.1.0", "uptime_s": 3600.0},
        "host": {"hostname": f"{station}.local", "boot_time": NOW - 7 * 86400,
                 "cpu_ratio": 0.12, "load1": 0.4, "memory_used_ratio": 0.55,
                 "swap_used_ratio": 0.0,
                 "disks": [{"mount": "/", "used_ratio": 0.61, "free_bytes": 51_234_567_890}],
                 "temperature_c": 54.0, "clock_offset_s": None},
        "components": components,
        "checks": [{"id": "enrollment-server", "kind": "tcp", "status": "ok",
                    "latency_s": 0.012, "detail": ""}],
        "unexpected": unexpected or [],
    }


def event(site: str, station: str, seq: int, ts: float, comp: str, old: str, new: str,
          detail: str = "") -> dict[str, Any]:
    return {"v": 1, "site": site, "station": station, "boot_id": BOOT, "seq": seq, "ts": ts,
            "component": comp, "from": old, "to": new, "detail": detail}


def feed(fleet: Fleet, kind: wire.MessageKind, site: str, station: str,
         payload: dict[str, Any], now: float) -> wire.Payload:
    """Encode, decode as the ingest does, and apply; fails loudly if the fleet refuses."""
    topic = wire.topic_for(site, station, kind)
    _, msg = wire.decode_message(topic, msgspec.json.encode(payload))
    if isinstance(msg, wire.Status):
        outcome: Any = fleet.apply_status(site, station, msg, now)
    elif isinstance(msg, wire.Heartbeat):
        outcome = fleet.apply_heartbeat(msg, now)
    else:
        assert isinstance(msg, wire.Event)
        outcome = fleet.apply_event(msg, now)
    assert outcome.accepted, outcome
    return msg


def birth(fleet: Fleet, site: str, station: str, now: float) -> None:
    feed(fleet, "status", site, station,
         {"state": "online", "boot_id": BOOT, "session": 1, "ts": now}, now)


def kit(**overrides: dict[str, Any]) -> list[dict[str, Any]]:
    roles = ("fingerprint", "iris", "camera", "signature", "card-reader")
    return [overrides.get(role.replace("-", "_"), component(role)) for role in roles]


def build_fleet() -> tuple[Fleet, list[EventRow]]:
    """The fleet at NOW, and the event rows to store (oldest first)."""
    fleet = Fleet(load_registry(REGISTRY), now=NOW - 3 * 3600)
    birth(fleet, "medan-baru", "medan-baru-01", NOW - 3600)
    feed(fleet, "heartbeat", "medan-baru", "medan-baru-01",
         heartbeat("medan-baru", "medan-baru-01", 1, NOW - 10, kit()), NOW - 10)

    # medan-baru-02: online, fingerprint missing for 5 min, iris failed with a
    # hostile detail, a flash drive plugged in.
    birth(fleet, "medan-baru", "medan-baru-02", NOW - 3600)
    broken = kit(fingerprint=component("fingerprint", "missing", NOW - 300),
                 iris=component("iris", "failed", NOW - 7200, HOSTILE))
    flash = [{"vid": "0781", "pid": "5567", "product": "USB flash drive", "port": "1-4"},
             {"vid": "1234", "pid": "abcd", "product": HOSTILE, "port": "1-5"}]
    feed(fleet, "heartbeat", "medan-baru", "medan-baru-02",
         heartbeat("medan-baru", "medan-baru-02", 7, NOW - 5, broken, flash), NOW - 5)
    rows: list[EventRow] = []
    # Then the fingerprint reader flapped: four times gone and back, gone again.
    flaps = [("ok", "missing"), ("missing", "ok")] * 4 + [("ok", "missing")]
    changes = [("iris", "ok", "failed", NOW - 7200, HOSTILE)] + [
        ("fingerprint", old, new, NOW - 2700 + 300 * i, "") for i, (old, new) in enumerate(flaps)
    ]
    for seq, (comp, old, new, ts, detail) in enumerate(changes, start=1):
        feed(fleet, "event", "medan-baru", "medan-baru-02",
             event("medan-baru", "medan-baru-02", seq, ts, comp, old, new, detail), ts)
        rows.append(("medan-baru-02", "medan-baru", BOOT, seq, ts, ts, comp, old, new, detail))

    # medan-kota-01: its Last Will arrived two hours ago. medan-kota-02: never seen.
    birth(fleet, "medan-kota", "medan-kota-01", NOW - 3 * 3600)
    feed(fleet, "status", "medan-kota", "medan-kota-01",
         {"state": "lost", "boot_id": BOOT, "session": 1}, NOW - 7200)

    # A station the registry does not know, at a site it does not know.
    feed(fleet, "heartbeat", "pasar-baru", "pasar-baru-09",
         heartbeat("pasar-baru", "pasar-baru-09", 1, NOW - 20, kit()), NOW - 20)
    fleet.tick(NOW)
    return fleet, rows
