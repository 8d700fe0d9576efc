"""Pure matching: roles, counts, serial pins, unexpected devices, speeds, names."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import ComponentSpec, UsbMatch, UsbPolicy
from agent.probes.usb.inventory import (
    UsbDeviceInfo,
    below_speed,
    claim_devices,
    describe_expected,
    is_infrastructure,
    to_unexpected,
    unexpected_devices,
    usb_id_names,
)
from tests.agent.usb.fakes import usb_spec

VENDOR = ((0xFF, 0, 0),)


def dev(vid: int, pid: int, port: str, serial: str = "", address: int = 0,
        device_class: int = 0, interfaces: tuple[tuple[int, int, int], ...] = VENDOR,
        product: str = "") -> UsbDeviceInfo:
    return UsbDeviceInfo(vid, pid, bus=1, address=address or int(port[-1]) + 1, port=port,
                         serial=serial, device_class=device_class, interface_classes=interfaces,
                         product=product)


CROSSMATCH = dev(0x080B, 0x0002, "1-1", "CM-1")
DIGITAL_PERSONA = dev(0x05BA, 0x000A, "1-2", "DP-1")
DIGITAL_PERSONA_2 = dev(0x05BA, 0x000A, "1-3", "DP-2")
FLASH = dev(0x0781, 0x5567, "1-4", "4C53", interfaces=((8, 6, 0x50),), product="Cruzer Blade")
KEYBOARD = dev(0x413C, 0x2113, "1-5", interfaces=((3, 1, 1), (3, 0, 0)))
MOUSE = dev(0x046D, 0xC077, "1-6", interfaces=((3, 1, 2),))
HUB = dev(0x05E3, 0x0610, "1-7", device_class=9, interfaces=((9, 0, 0),))
ROOT_HUB = UsbDeviceInfo(0x1D6B, 0x0002, bus=1, address=1, port="usb1", device_class=9)
BAD_USB = dev(0x1234, 0x0001, "1-8", interfaces=((3, 1, 1), (8, 6, 0x50)))  # keyboard + storage
FINGERPRINT = usb_spec("fingerprint", (0x080B, 0x0002), (0x05BA, 0x000A))


@pytest.mark.parametrize(("specs", "devices", "expected"), [
    pytest.param([FINGERPRINT], [DIGITAL_PERSONA], {"fingerprint": ["1-2"]}, id="any-of second"),
    pytest.param([FINGERPRINT], [CROSSMATCH, DIGITAL_PERSONA], {"fingerprint": ["1-1"]},
                 id="count 1 takes the first port"),
    pytest.param([FINGERPRINT], [FLASH], {"fingerprint": []}, id="nothing matches"),
    pytest.param([usb_spec("fp", (0x05BA, 0x000A, "DP-2"))], [DIGITAL_PERSONA, DIGITAL_PERSONA_2],
                 {"fp": ["1-3"]}, id="serial pin"),
    pytest.param([usb_spec("fp", (0x05BA, 0x000A, "DP-9"))], [DIGITAL_PERSONA], {"fp": []},
                 id="serial pin, other unit attached"),
    pytest.param([usb_spec("fp", (0x05BA, 0x000A), count=2)], [DIGITAL_PERSONA_2, DIGITAL_PERSONA],
                 {"fp": ["1-2", "1-3"]}, id="count 2"),
    pytest.param([usb_spec("spare", (0x05BA, 0x000A)), usb_spec("main", (0x05BA, 0x000A, "DP-1"))],
                 [DIGITAL_PERSONA, DIGITAL_PERSONA_2], {"main": ["1-2"], "spare": ["1-3"]},
                 id="pinned role chooses first, device serves one role"),
])
def test_claim_devices(specs: list[ComponentSpec], devices: list[UsbDeviceInfo],
                       expected: dict[str, list[str]]) -> None:
    claimed = claim_devices(specs, devices)
    assert {role: [d.port for d in ds] for role, ds in claimed.items()} == expected


def test_non_usb_components_are_not_claimed() -> None:
    assert claim_devices([ComponentSpec(id="monitor", kind="display")], [FLASH]) == {}


@pytest.mark.parametrize(("device", "expected"), [
    (KEYBOARD, True), (MOUSE, True), (HUB, True), (ROOT_HUB, True),
    (FLASH, False), (BAD_USB, False), (CROSSMATCH, False),
    (dev(0x056A, 0x00A2, "1-9", interfaces=((3, 0, 0),)), False),  # HID but not boot: a pad
])
def test_infrastructure(device: UsbDeviceInfo, expected: bool) -> None:
    assert is_infrastructure(device) is expected


@pytest.mark.parametrize(("policy", "unexpected"), [
    (UsbPolicy(), ["1-3", "1-4", "1-8"]),
    (UsbPolicy(allow=(UsbMatch(0x0781, 0x5567),)), ["1-3", "1-8"]),
    (UsbPolicy(allow=(UsbMatch(0x0781, 0x5567, "other"),)), ["1-3", "1-4", "1-8"]),
    (UsbPolicy(allow_classes=(8,)), ["1-3", "1-8"]),  # storage ok, keyboard+storage still not
    (UsbPolicy(allow_classes=(3, 8)), ["1-3"]),
    (UsbPolicy(allow_classes=(0xFF,)), ["1-4", "1-8"]),
])
def test_unexpected_devices(policy: UsbPolicy, unexpected: list[str]) -> None:
    devices = [CROSSMATCH, DIGITAL_PERSONA_2, FLASH, KEYBOARD, MOUSE, HUB, ROOT_HUB, BAD_USB]
    claimed = claim_devices([FINGERPRINT], devices)
    assert [d.port for d in unexpected_devices(devices, claimed, policy)] == unexpected


def test_unexpected_payload_shape() -> None:
    flash = to_unexpected(FLASH)
    assert (flash.vid, flash.pid, flash.product, flash.port, flash.serial) == (
        "0781", "5567", "Cruzer Blade", "1-4", "4C53")
    weird = to_unexpected(dev(1, 2, "1-1", serial="a\x00b\n" + "x" * 400))
    assert weird.serial.startswith("ab") and len(weird.serial) == 256


@pytest.mark.parametrize(("actual", "minimum", "below"), [
    ("full", "high", True), ("low", "full", True), ("high", "high", False),
    ("super", "high", False), ("high", "super", True), ("unknown", "high", False),
    ("full", None, False),
])
def test_below_speed(actual: str, minimum: str | None, below: bool) -> None:
    assert below_speed(actual, minimum) is below


def test_expected_devices_are_named_from_usb_ids(tmp_path: Path) -> None:
    ids = tmp_path / "usb.ids"
    ids.write_text("# comment\n05ba  DigitalPersona, Inc.\n\t000a  Fingerprint Reader\n"
                   "080b  Cross Match Technologies\nC 00  (Defined at Interface level)\n")
    spec = usb_spec("fp", (0x05BA, 0x000A), (0x080B, 0x0002, "CM-7"))
    assert describe_expected(spec, ids) == (
        "05ba:000a DigitalPersona, Inc. Fingerprint Reader, 080b:0002 serial CM-7")
    assert usb_id_names(tmp_path / "absent") == {}
