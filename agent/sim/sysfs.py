"""A fake sysfs tree for the display probe: DRM connectors with status and EDID.

Used by tests and by the fleet simulator; the probe reads these files through
the same code path it uses on /sys, with `ProbeEnv.sysfs_root` pointing here.
"""

from __future__ import annotations

from pathlib import Path

EDID_HEADER = bytes([0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00])
# A 1920x1080 @ 60 Hz detailed timing descriptor (the one most monitors carry first).
_DTD_1080P = bytes.fromhex("023a801871382d40582c450040846300001e")


def write_drm_connector(
    root: Path, card: str, connector: str, status: str, edid: bytes | None
) -> Path:
    """Create `<root>/class/drm/<card>-<connector>/{status,enabled,edid}` like the kernel does."""
    directory = root / "class" / "drm" / f"{card}-{connector}"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "status").write_text(f"{status}\n")
    (directory / "enabled").write_text("enabled\n" if status == "connected" else "disabled\n")
    # The kernel shows an empty edid file when nothing (or nothing readable) is attached.
    (directory / "edid").write_bytes(edid or b"")
    return directory


def make_edid(manufacturer: str, model_name: str, product_code: int = 0x0001) -> bytes:
    """A valid 128-byte EDID 1.4 block naming `manufacturer` (3 letters) and the monitor."""
    if len(manufacturer) != 3 or not manufacturer.isalpha() or not manufacturer.isupper():
        raise ValueError(f"manufacturer must be 3 capital letters like 'DEL', got {manufacturer!r}")
    if len(model_name) > 13 or not model_name.isascii():
        raise ValueError(f"model name must be at most 13 ASCII characters, got {model_name!r}")
    letters = [ord(c) - ord("A") + 1 for c in manufacturer]
    maker = (letters[0] << 10 | letters[1] << 5 | letters[2]).to_bytes(2, "big")
    block = bytearray(128)
    block[0:8] = EDID_HEADER
    block[8:10] = maker
    block[10:12] = product_code.to_bytes(2, "little")
    block[16:20] = bytes([1, 30, 1, 4])  # week 1 of 2020, EDID version 1.4
    block[20:25] = bytes([0xA5, 0x35, 0x1E, 0x78, 0x3A])  # digital input, 53x30 cm, gamma 2.2
    block[54:72] = _DTD_1080P
    block[72:90] = _text_descriptor(0xFC, model_name)  # monitor name
    block[90:108] = _text_descriptor(0xFF, "PANTAU0001")  # serial number
    block[108:126] = bytes([0, 0, 0, 0x10, 0]) + bytes(13)  # dummy descriptor
    block[127] = (-sum(block[:127])) % 256
    return bytes(block)


def _text_descriptor(tag: int, value: str) -> bytes:
    # Text is up to 13 bytes, ended by a line feed and padded with spaces.
    body = value.encode("ascii") + (b"\n" if len(value) < 13 else b"")
    return bytes([0, 0, 0, tag, 0]) + body.ljust(13, b" ")
