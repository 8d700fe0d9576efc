"""Prints what one USB poll costs (not a test: run `python -m tests.agent.usb.bench_usb_probe`)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from agent.config import load_config as load_agent_config
from agent.probes.base import ProbeEnv
from agent.probes.usb.backend import UsbSource, fresh_libusb1_backend
from agent.probes.usb.probe import UsbProbe
from agent.sim.usb_backend import kit_backend
from tests.agent.usb.test_usb_probe import REPO


def per_call(fn: Callable[[], object], n: int) -> float:
    for _ in range(50):  # warm caches (usb.ids names, imports) before timing
        fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        station = Path(tmp) / "agent.toml"
        station.write_text('station = "b-01"\nsite = "b"\ninclude = ["ektp-enrollment"]\n')
        cfg = load_agent_config(station, [REPO / "deploy" / "profiles"])
    world = kit_backend("B")
    long_lived = UsbProbe(cfg, ProbeEnv(usb_backend=world))
    per_poll = UsbProbe(cfg, ProbeEnv(usb_backend=world.new_context))
    print(f"kit of {len(world.devices())} simulated devices, {len(cfg.components)} components")
    print(f"  probe(), one backend:            {per_call(long_lived.probe, 2000) * 1e3:.3f} ms")
    print(f"  probe(), new context per poll:   {per_call(per_poll.probe, 2000) * 1e3:.3f} ms")
    real = UsbSource(fresh_libusb1_backend)
    print(f"  real libusb init+list+exit here: {per_call(real.poll, 500) * 1e3:.3f} ms"
          " (no USB bus on this machine)")


if __name__ == "__main__":
    main()
