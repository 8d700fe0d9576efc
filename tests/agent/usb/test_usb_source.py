"""The pyusb adapter: where strings come from, a fresh context per poll, errors."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest

from agent.probes.usb.backend import (
    NO_PERMISSION_HINT,
    PollRequest,
    UsbSource,
    UsbUnavailable,
    fresh_libusb1_backend,
    port_name,
)
from agent.sim.usb_backend import SimDevice, kit_backend, kit_devices
from tests.agent.usb.fakes import FLASH_DRIVE, bus_with, write_sysfs

SCANNER = SimDevice(0x080B, 0x0002, "Cross Match", "Fingerprint Scanner", "FP-1",
                    port_numbers=(2, 3))


@pytest.mark.parametrize(("bus", "ports", "name"), [
    (1, (2,), "1-2"), (2, (1, 4, 3), "2-1.4.3"), (3, None, "usb3"), (1, (), "usb1"),
])
def test_port_name_follows_the_kernel(bus: int, ports: tuple[int, ...] | None, name: str) -> None:
    assert port_name(bus, ports) == name


def test_strings_come_from_sysfs_not_from_the_device(tmp_path: Path) -> None:
    backend = bus_with(SCANNER, string_source="sysfs")
    write_sysfs(tmp_path, SCANNER, serial="FROM-SYSFS")
    backend.replace(SCANNER, unresponsive=True)  # any device I/O would fail
    [info] = UsbSource(backend, tmp_path).poll()
    assert (info.port, info.serial, info.product) == ("1-2.3", "FROM-SYSFS", "Fingerprint Scanner")


@pytest.mark.parametrize(("asked", "serial"), [((), ""), ({(0x080B, 0x0002)}, "FP-1")])
def test_device_strings_only_for_opted_in_parts_without_sysfs(
    tmp_path: Path, asked: set[tuple[int, int]], serial: str
) -> None:
    backend = bus_with(SCANNER, string_source="sysfs")  # and no sysfs entry for it
    [info] = UsbSource(backend, tmp_path).poll(PollRequest(descriptor_ids=asked))
    assert info.serial == serial


def test_descriptor_source_reads_strings_through_pyusb() -> None:
    [info] = UsbSource(bus_with(SCANNER, string_source="descriptor")).poll()
    assert (info.manufacturer, info.product, info.serial) == ("Cross Match", "Fingerprint Scanner",
                                                              "FP-1")


def test_poll_describes_classes_speed_and_address() -> None:
    infos = {i.port: i for i in UsbSource(kit_backend("K")).poll()}
    assert infos["1-6"].interface_classes == ((3, 1, 1), (3, 0, 0))
    assert infos["1-4"].speed == "full" and infos["1-3"].speed == "high"
    assert infos["1-1"].serial == "K-fingerprint" and infos["1-1"].address == 2
    assert infos["usb1"].device_class == 9


def test_control_check_only_for_requested_ids() -> None:
    backend = bus_with(SCANNER, FLASH_DRIVE)
    backend.replace(FLASH_DRIVE, unresponsive=True, unresponsive_errno=errno.EPIPE)
    infos = UsbSource(backend).poll(PollRequest(control_ids={(0x080B, 0x0002), (0x0781, 0x5567)}))
    by_vid = {i.vid: i for i in infos}
    assert by_vid[0x080B].control == "ok"
    assert by_vid[0x0781].control == "failed" and "does not answer" in by_vid[0x0781].control_detail
    assert all(i.control == "unchecked" for i in UsbSource(backend).poll())


def test_control_check_without_permission_is_denied_not_failed() -> None:
    backend = bus_with(SCANNER)
    backend.deny_access(open=True)
    [info] = UsbSource(backend).poll(PollRequest(control_ids={(0x080B, 0x0002)}))
    assert (info.control, info.control_detail) == ("denied", NO_PERMISSION_HINT)


def test_listing_without_permission_says_what_to_do() -> None:
    backend = bus_with(SCANNER)
    backend.deny_access(enumerate=True)
    with pytest.raises(UsbUnavailable, match=r"install deploy/udev/70-pantau\.rules"):
        UsbSource(backend).poll()


def test_a_factory_failing_with_eacces_is_unavailable() -> None:
    def no_bus() -> Any:
        from agent.sim.usb_backend import usb_error
        raise usb_error(errno.EACCES, "Access denied")
    with pytest.raises(UsbUnavailable, match="no permission to read USB devices"):
        UsbSource(no_bus).poll()


def test_rejects_something_that_is_no_backend() -> None:
    with pytest.raises(TypeError, match="pyusb backend or a factory"):
        UsbSource(42)


# --- the fresh-context-per-poll proof -----------------------------------------

def test_long_lived_context_misses_unplug_and_plug_but_per_poll_contexts_see_them() -> None:
    """libusb without udev freezes its list at init; one context per poll does not."""
    world = kit_backend("P", snapshot_on_init=True)
    long_lived = UsbSource(world)
    per_poll = UsbSource(world.new_context)
    scanner = kit_devices("P")["fingerprint"]

    def serials(source: UsbSource) -> set[str]:
        return {i.serial for i in source.poll()}

    assert "P-fingerprint" in serials(long_lived) and "P-fingerprint" in serials(per_poll)
    world.unplug(scanner)
    assert "P-fingerprint" in serials(long_lived)  # the stale view
    assert "P-fingerprint" not in serials(per_poll)
    world.plug(FLASH_DRIVE)
    assert "4C530001" not in serials(long_lived)
    assert "4C530001" in serials(per_poll)
    assert world.contexts_created == 1 + 3  # the world + one per per-poll poll


def test_real_libusb_gets_a_new_context_per_poll_and_closes_it() -> None:
    import usb.backend.libusb1

    if usb.backend.libusb1.get_backend() is None:
        pytest.skip("libusb-1.0 is not installed")
    made: list[Any] = []

    def factory() -> Any:
        made.append(fresh_libusb1_backend())
        return made[-1]

    source = UsbSource(factory)
    for _ in range(3):
        source.poll()  # no USB bus here: an empty list, through real libusb
    assert len(made) == 3 and len({id(b) for b in made}) == 3
    assert all(b._finalize_called for b in made)  # libusb_exit ran after each poll
