"""Stand-ins and the models a role expects, as the USB probe reports them.

A stand-in (a single-finger reader while the ten-print scanner is away) makes
the role ok but marked `standin`; a real part wins over a stand-in still
plugged in; a missing role (or one on a stand-in) names the models to order,
non-stand-in entries only, in config order; a `count > 1` role says how many
units are absent.
"""

from __future__ import annotations

from agent.config import ComponentSpec, UsbMatch
from agent.probes.base import ComponentReading
from agent.probes.usb.probe import UsbProbe
from agent.sim.usb_backend import SimDevice
from agent.state_machine import to_component
from pantau import wire
from tests.agent.usb.fakes import FakeClock, bus_with, config, env

SCANNER = SimDevice(0x080B, 0x0002, "Cross Match", "Fingerprint Scanner", "FP-1",
                    port_numbers=(1,))
FUTRONIC = SimDevice(0x1491, 0x0088, "Futronic", "FS88", "FUT-1", port_numbers=(2,))
FINGERPRINT = ComponentSpec(id="fingerprint", kind="usb", match=(
    UsbMatch(0x080B, 0x0002), UsbMatch(0x1491, 0x0088, standin=True), UsbMatch(0x113F, 0x1020),
    UsbMatch(0x080B, 0x0002, serial="other")))
# Named as /usr/share/misc/usb.ids (Debian's usbutils/hwdata) names them.
EXPECTED = (
    wire.UsbId(vid="080b", pid="0002",
               name="Cross Match Technologies Fingerprint Scanner (After ReNumeration)"),
    wire.UsbId(vid="113f", pid="1020",
               name="Integrated Biometrics, LLC Watson Two-Finger Roll Scanner"),
)


def fingerprint(probe: UsbProbe) -> ComponentReading:
    return next(c for c in probe.probe().components if c.id == "fingerprint")


def test_real_part_is_ok_without_stand_in_or_expected_models() -> None:
    reading = fingerprint(UsbProbe(config(FINGERPRINT), env(bus_with(SCANNER))))
    assert (reading.status, reading.standin, reading.expected, reading.missing_units) == (
        "ok", False, (), 0)
    # Nothing new on the wire for a healthy role: byte-identical to older agents.
    assert b"standin" not in wire.encode(to_component(reading, 1.0))


def test_stand_in_is_ok_marked_and_names_the_models_to_order() -> None:
    reading = fingerprint(UsbProbe(config(FINGERPRINT), env(bus_with(FUTRONIC))))
    assert (reading.status, reading.standin, reading.expected) == ("ok", True, EXPECTED)
    assert reading.device is not None and reading.device.serial == "FUT-1"


def test_the_real_part_wins_over_a_stand_in_still_plugged_in() -> None:
    backend = bus_with(FUTRONIC, SimDevice(0x080B, 0x0002, serial="FP-2", port_numbers=(3,)))
    probe = UsbProbe(config(FINGERPRINT), env(backend))
    reading = fingerprint(probe)
    assert (reading.status, reading.standin) == ("ok", False)
    assert reading.device is not None and reading.device.serial == "FP-2"
    # The stand-in left plugged in serves no role now: it is listed as unexpected.
    assert [(u.vid, u.pid) for u in probe.probe().unexpected] == [("1491", "0088")]


def test_missing_role_names_the_models_to_order_in_config_order() -> None:
    reading = fingerprint(UsbProbe(config(FINGERPRINT), env(bus_with())))
    assert (reading.status, reading.standin, reading.expected, reading.missing_units) == (
        "missing", False, EXPECTED, 0)
    assert "1491:0088" in reading.detail and "(stand-in)" in reading.detail


def test_stand_in_mark_survives_the_debounce_of_a_usb_reset() -> None:
    backend = bus_with(FUTRONIC)
    probe = UsbProbe(config(FINGERPRINT, debounce_polls=2), env(backend, FakeClock()))
    assert fingerprint(probe).standin
    backend.unplug(FUTRONIC)
    held = fingerprint(probe)
    assert (held.status, held.standin) == ("ok", True)
    gone = fingerprint(probe)
    assert (gone.status, gone.standin, gone.expected) == ("missing", False, EXPECTED)


def test_count_two_with_one_unit_present_says_one_unit_is_missing() -> None:
    spec = ComponentSpec(id="camera", kind="usb", count=3, match=(UsbMatch(0x046D, 0x082D),))
    backend = bus_with(SimDevice(0x046D, 0x082D, serial="C1", port_numbers=(3,)))
    reading = next(c for c in UsbProbe(config(spec), env(backend)).probe().components)
    assert (reading.status, reading.missing_units) == ("missing", 2)
    component = to_component(reading, 1.7e9)
    assert (component.missing_units, component.expected) == (
        2, [wire.UsbId(vid="046d", pid="082d", name="Logitech, Inc. HD Pro Webcam C920")])
    assert wire.decode("heartbeat", wire.encode(wire.Heartbeat(
        v=1, site="s", station="t", seq=1, boot_id="b", ts=1.7e9, interval_s=15.0,
        agent=wire.AgentInfo(version="x", uptime_s=1.0), components=[component], checks=[],
        unexpected=[],
    ))).components == [component]  # type: ignore[union-attr]
