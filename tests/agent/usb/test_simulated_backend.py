"""The simulated backend under pyusb's own code: find, descriptors, strings, transfers."""

from __future__ import annotations

import errno

import pytest
import usb.core
import usb.util

from agent.sim.usb_backend import KIT_DEVICES, SimDevice, kit_backend, kit_devices
from tests.agent.usb.fakes import FLASH_DRIVE, bus_with


def test_find_runs_pyusb_descriptor_parsing_over_the_kit() -> None:
    backend = kit_backend("ST01")
    found = {(d.idVendor, d.idProduct): d for d in usb.core.find(find_all=True, backend=backend)}
    assert set(found) == {(d.vid, d.pid) for d in KIT_DEVICES.values()}
    camera = found[(0x046D, 0x082D)]
    assert (camera.bus, camera.port_numbers, camera.speed) == (1, (3,), usb.util.SPEED_HIGH)
    interfaces = [(i.bInterfaceClass, i.bInterfaceSubClass) for cfg in camera for i in cfg]
    assert interfaces == [(0x0E, 1), (0x0E, 2)]
    assert [ep.bEndpointAddress for ep in camera[0][(0, 0)]] == [0x81]


def test_string_descriptors_are_served_utf16_with_langids() -> None:
    dev = SimDevice(0x076B, 0x5321, "OMNIKEY", "CardMan 5321 ünï", "SN-42")
    found = usb.core.find(backend=bus_with(dev), idVendor=0x076B)
    assert found.langids == (0x0409,)
    assert (found.manufacturer, found.product, found.serial_number) == (
        "OMNIKEY", "CardMan 5321 ünï", "SN-42")
    usb.util.dispose_resources(found)


def test_get_status_answers_two_bytes() -> None:
    found = usb.core.find(backend=bus_with(FLASH_DRIVE))
    assert list(found.ctrl_transfer(0x80, 0x00, 0, 0, 2)) == [0, 0]


@pytest.mark.parametrize("err", [errno.EPIPE, errno.EIO, errno.ETIMEDOUT])
def test_unresponsive_device_raises_usb_error(err: int) -> None:
    backend = bus_with(FLASH_DRIVE)
    backend.replace(FLASH_DRIVE, unresponsive=True, unresponsive_errno=err)
    found = usb.core.find(backend=backend)
    with pytest.raises(usb.core.USBError) as info:
        found.ctrl_transfer(0x80, 0x00, 0, 0, 2)
    assert info.value.errno == err


def test_unplugged_device_cannot_be_opened() -> None:
    backend = bus_with(FLASH_DRIVE)
    found = usb.core.find(backend=backend)
    backend.unplug(FLASH_DRIVE)
    with pytest.raises(usb.core.USBError) as info:
        found.ctrl_transfer(0x80, 0x00, 0, 0, 2)
    assert info.value.errno == errno.ENODEV


def test_plug_unplug_replug_and_addresses() -> None:
    backend = kit_backend("S")
    fingerprint = kit_devices("S")["fingerprint"]
    before = usb.core.find(backend=backend, idVendor=fingerprint.vid).address
    assert backend.replug(fingerprint) == [fingerprint]
    after = usb.core.find(backend=backend, idVendor=fingerprint.vid).address
    assert after != before  # re-enumeration takes a new address, like the kernel
    kit = kit_devices("S")
    assert backend.unplug(lambda d: d.vid == 0x046D) == [kit["camera"], kit["mouse"]]
    assert len(backend.devices()) == len(KIT_DEVICES) - 2


def test_plugging_an_occupied_port_is_refused() -> None:
    backend = bus_with(FLASH_DRIVE)
    with pytest.raises(ValueError, match="port 1-8 already holds 0781:5567"):
        backend.plug(SimDevice(0x1234, 0x5678, port_numbers=(8,)))


def test_snapshot_context_keeps_its_list_but_a_new_context_sees_changes() -> None:
    backend = bus_with(FLASH_DRIVE, snapshot_on_init=True)
    backend.unplug(FLASH_DRIVE)
    assert len(list(usb.core.find(find_all=True, backend=backend))) == 1  # stale, like libusb
    assert list(usb.core.find(find_all=True, backend=backend.new_context())) == []
    assert backend.contexts_created == 2


def test_denied_enumeration_raises_eacces() -> None:
    backend = bus_with(FLASH_DRIVE)
    backend.deny_access(enumerate=True)
    with pytest.raises(usb.core.USBError) as info:
        list(usb.core.find(find_all=True, backend=backend))
    assert info.value.errno == errno.EACCES


def test_kit_serials_carry_the_prefix_on_serialised_parts_only() -> None:
    kit = kit_devices("MDN01")
    assert kit["fingerprint"].serial == "MDN01-fingerprint"
    assert kit["keyboard"].serial == "" and kit["root-hub"].serial == KIT_DEVICES["root-hub"].serial
