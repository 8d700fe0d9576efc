"""UsbProbe over the simulated bus: statuses, debounce, flapping, speed, active checks."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from agent.config import ComponentSpec
from agent.config import load_config as load_agent_config
from agent.probes.base import ComponentReading, ProbeResult
from agent.probes.usb.backend import SPEED_FULL
from agent.probes.usb.probe import UsbProbe
from agent.sim.usb_backend import KIT_DEVICES, SIM_IRIS_IDS, SimDevice, kit_backend, kit_devices
from tests.agent.usb.fakes import FLASH_DRIVE, FakeClock, bus_with, config, env, usb_spec

REPO = Path(__file__).resolve().parents[3]
SCANNER = SimDevice(0x080B, 0x0002, "Cross Match", "Fingerprint Scanner", "FP-1", port_numbers=(1,))
FINGERPRINT = usb_spec("fingerprint", (0x080B, 0x0002), (0x05BA, 0x000A),
                       description="ten-print fingerprint scanner")


def readings(result: ProbeResult) -> dict[str, ComponentReading]:
    return {c.id: c for c in result.components}


def status(probe: UsbProbe, role: str = "fingerprint") -> str:
    return readings(probe.probe())[role].status


def test_ok_reading_carries_the_matched_device() -> None:
    probe = UsbProbe(config(FINGERPRINT), env(bus_with(SCANNER)))
    reading = readings(probe.probe())["fingerprint"]
    assert (reading.status, reading.kind, reading.required, reading.detail) == (
        "ok", "usb", True, "")
    assert reading.device is not None
    assert (reading.device.vid, reading.device.pid, reading.device.serial, reading.device.port,
            reading.device.speed, reading.device.product) == (
        "080b", "0002", "FP-1", "1-1", "high", "Fingerprint Scanner")


def test_missing_on_first_poll_names_what_was_expected() -> None:
    reading = readings(UsbProbe(config(FINGERPRINT), env(bus_with())).probe())["fingerprint"]
    assert reading.status == "missing" and reading.device is None
    assert reading.detail.startswith("ten-print fingerprint scanner not found on any USB port "
                                     "(expected one of 080b:0002")
    assert "05ba:000a DigitalPersona, Inc. Fingerprint Reader" in reading.detail


def test_debounce_keeps_ok_for_one_absent_poll_then_missing_then_ok() -> None:
    backend = bus_with(SCANNER)
    probe = UsbProbe(config(FINGERPRINT, debounce_polls=2), env(backend))
    assert status(probe) == "ok"
    backend.unplug(SCANNER)
    first_absent = readings(probe.probe())["fingerprint"]
    assert first_absent.status == "ok" and first_absent.device is not None  # maybe a USB reset
    assert status(probe) == "missing"
    backend.plug(SCANNER)
    assert status(probe) == "ok"


def test_count_two_with_one_present_is_missing_with_ports() -> None:
    spec = usb_spec("camera", (0x046D, 0x082D), count=2)
    backend = kit_backend("C")
    reading = readings(UsbProbe(config(spec), env(backend)).probe())["camera"]
    assert reading.status == "missing"
    assert reading.detail.startswith("camera: only 1 of 2 found (port 1-3); the others are not")
    backend.plug(SimDevice(0x046D, 0x082D, serial="second", port_numbers=(9,)))
    assert status(UsbProbe(config(spec), env(backend)), "camera") == "ok"


def test_flapping_fails_and_recovers_after_the_window() -> None:
    clock, backend = FakeClock(), bus_with(SCANNER)
    probe = UsbProbe(config(FINGERPRINT, flap_changes=4, flap_window_s=60), env(backend, clock))
    assert status(probe) == "ok"
    for _ in range(2):  # two re-plugs between polls: 2 x (disappear + appear)
        clock.advance(5)
        backend.replug(SCANNER)
        last = readings(probe.probe())["fingerprint"]
    assert last.status == "failed"
    assert "keeps dropping off the USB bus (4 connects/disconnects in 60 s)" in last.detail
    clock.advance(30)
    assert status(probe) == "failed"  # still within the window
    clock.advance(31)
    assert status(probe) == "ok"


def test_a_single_replug_is_not_flapping() -> None:
    clock, backend = FakeClock(), bus_with(SCANNER)
    probe = UsbProbe(config(FINGERPRINT), env(backend, clock))
    probe.probe()
    backend.replug(SCANNER)
    assert status(probe) == "ok"


@pytest.mark.parametrize(("speed", "minimum", "expected"), [
    (SPEED_FULL, "high", "failed"), (SPEED_FULL, None, "ok"), (SPEED_FULL, "full", "ok"),
])
def test_speed_below_minimum_fails(speed: int, minimum: str | None, expected: str) -> None:
    spec = usb_spec("camera", (0x046D, 0x082D), min_speed=minimum, description="camera")
    backend = bus_with(SimDevice(0x046D, 0x082D, port_numbers=(3, 2), speed=speed))
    reading = readings(UsbProbe(config(spec), env(backend)).probe())["camera"]
    assert reading.status == expected
    if expected == "failed":
        assert reading.detail.startswith("camera is running at full speed on port 1-3.2, "
                                         "needs high: plug it straight into")


@pytest.mark.parametrize("err", [errno.ETIMEDOUT, errno.EPIPE, errno.EIO])
def test_active_check_on_unresponsive_device_fails(err: int) -> None:
    backend = bus_with(SCANNER)
    probe = UsbProbe(config(usb_spec("fingerprint", (0x080B, 0x0002), active_check="control")),
                     env(backend))
    assert status(probe) == "ok"
    backend.replace(SCANNER, unresponsive=True, unresponsive_errno=err)
    reading = readings(probe.probe())["fingerprint"]
    assert reading.status == "failed" and "does not answer on the USB bus" in reading.detail


def test_passive_probe_never_talks_to_the_device() -> None:
    backend = bus_with(SCANNER)
    backend.replace(SCANNER, unresponsive=True)
    assert status(UsbProbe(config(FINGERPRINT), env(backend))) == "ok"


@pytest.mark.parametrize(("command", "expected", "detail"), [
    (("true",), "ok", ""),
    (("false",), "failed", "health command `false` failed (exit 1)"),
    (("sh", "-c", "echo scanner jammed >&2; exit 3"), "failed", "(exit 3): scanner jammed"),
    (("sh", "-c", 'test "$PANTAU_USB_SERIAL" = FP-1'), "ok", ""),
    (("sleep", "5"), "failed", "did not finish within 0.2 s"),
    (("/nonexistent/pantau-check",), "unknown", "cannot run"),
])
def test_health_command(command: tuple[str, ...], expected: str, detail: str) -> None:
    spec = usb_spec("fingerprint", (0x080B, 0x0002), health_command=command, health_timeout_s=0.2)
    reading = readings(UsbProbe(config(spec), env(bus_with(SCANNER))).probe())["fingerprint"]
    assert reading.status == expected and detail in reading.detail


def test_no_permission_to_list_is_unknown_with_instructions() -> None:
    backend = bus_with(SCANNER)
    backend.deny_access(enumerate=True)
    probe = UsbProbe(config(FINGERPRINT), env(backend))
    reading = readings(probe.probe())["fingerprint"]
    assert reading.status == "unknown"
    assert "install deploy/udev/70-pantau.rules" in reading.detail
    assert "group pantau" in reading.detail
    backend.deny_access(enumerate=False, open=False)
    assert status(probe) == "ok"  # fixed without a restart


def test_no_permission_for_active_check_is_unknown() -> None:
    backend = bus_with(SCANNER)
    backend.deny_access(open=True)
    spec = usb_spec("fingerprint", (0x080B, 0x0002), active_check="control")
    reading = readings(UsbProbe(config(spec), env(backend)).probe())["fingerprint"]
    assert reading.status == "unknown" and "70-pantau.rules" in reading.detail


def test_unexpected_lists_the_flash_drive_but_never_keyboard_mouse_or_hubs() -> None:
    backend = kit_backend("U")
    backend.plug(FLASH_DRIVE)
    result = UsbProbe(config(FINGERPRINT), env(backend)).probe()
    unexpected = {(u.vid, u.pid) for u in result.unexpected}
    assert ("0781", "5567") in unexpected
    assert not unexpected & {("413c", "2113"), ("046d", "c077"), ("1d6b", "0002")}
    flash = next(u for u in result.unexpected if u.vid == "0781")
    assert (flash.product, flash.port, flash.serial) == ("Cruzer Blade", "1-8", "4C530001")


def test_non_usb_components_are_ignored() -> None:
    monitor = ComponentSpec(id="monitor", kind="display")
    result = UsbProbe(config(FINGERPRINT, monitor), env(bus_with(SCANNER))).probe()
    assert [c.id for c in result.components] == ["fingerprint"]


def test_a_backend_factory_is_called_per_poll() -> None:
    world = bus_with(SCANNER, snapshot_on_init=True)
    probe = UsbProbe(config(FINGERPRINT, debounce_polls=1), env(world.new_context))
    assert status(probe) == "ok"
    world.unplug(SCANNER)
    assert status(probe) == "missing"


def test_the_kit_satisfies_the_shipped_profile_with_nothing_unexpected(tmp_path: Path) -> None:
    """KIT_DEVICES and deploy/profiles/ektp-enrollment.toml must stay in step."""
    station, (vid, pid) = tmp_path / "agent.toml", SIM_IRIS_IDS
    station.write_text(
        'station = "sim-01"\nsite = "sim"\ninclude = ["ektp-enrollment"]\n'
        "[[components]]\n"
        f'id = "iris"\nkind = "usb"\nmatch = [{{vid = "{vid:04x}", pid = "{pid:04x}"}}]\n'
    )
    cfg = load_agent_config(station, [REPO / "deploy" / "profiles"])
    result = UsbProbe(cfg, env(kit_backend("K"))).probe()
    usb_roles = {s.id for s in cfg.components if s.kind == "usb"}
    assert {c.id: c.status for c in result.components} == dict.fromkeys(usb_roles, "ok")
    assert {"fingerprint", "camera", "signature-pad", "card-reader", "iris"} <= usb_roles
    assert result.unexpected == ()
    assert usb_roles <= set(KIT_DEVICES)
    reader = readings(result)["card-reader"].device
    assert reader is not None and reader.serial == kit_devices("K")["card-reader"].serial
