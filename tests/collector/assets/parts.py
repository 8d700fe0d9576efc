"""Components as heartbeats carry them, for the register and repair tests."""

from __future__ import annotations

import msgspec

from pantau import wire

SCANNER = ("080b", "0002", "Cross Match", "Fingerprint Scanner")
FUTRONIC = ("1491", "0088", "Futronic", "FS88")
EXPECTED = [wire.UsbId(vid="080b", pid="0002", name="Cross Match Fingerprint Scanner")]


def comp(status: str = "ok", serial: str | None = "A", since: float = 0.0, *,
         role: str = "fingerprint", model: tuple[str, str, str, str] = SCANNER,
         standin: bool = False, required: bool = True, units: int | None = None,
         expected: list[wire.UsbId] | None = None) -> wire.Component:
    """`serial=None`: no device (a missing part)."""
    vid, pid, maker, product = model
    device = None if serial is None else wire.Device(
        vid=vid, pid=pid, serial=serial, manufacturer=maker, product=product)
    unset = msgspec.UNSET
    return wire.Component(
        id=role, kind="usb", required=required, status=status, since=since,  # type: ignore[arg-type]
        device=device, standin=True if standin else unset,
        expected=expected if expected is not None else (
            EXPECTED if status == "missing" or standin else unset),
        missing_units=units if units is not None else unset)

