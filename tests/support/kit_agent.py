"""`pantau-agent` over a simulated e-KTP kit: the real commands, a fake USB bus and sysfs.

    python -m tests.support.kit_agent [--sysfs DIR] [--extra-hubs N] [--missing ROLE] \\
        [--toggle-on-usr1 ROLE] run --config /etc/pantau/agent.toml

The launcher's own options come first; from the first argument that is not one
of them on, the command line is `pantau-agent`'s, run by `agent.cli.main` with
a `ProbeEnv` whose USB backend is a simulated healthy kit (pyusb's real code
paths over a fake backend object) and whose sysfs is DIR (default: a temporary
one with the operator monitor connected). For tests and benchmarks on machines
without the kit: the hardware boundary is the one place a fake stands in.

--extra-hubs N   plug N more USB hubs into the kit (never unexpected)
--missing ROLE   leave one part out of the kit
--toggle-on-usr1 ROLE
                 each SIGUSR1 unplugs ROLE's device, or plugs it back if it is
                 out: an unplug/replug driven from outside the process
                 (tests/bench/agent_footprint.py)

The options are read by hand, not with argparse: tests/bench/agent_footprint.py
measures this process's memory as the agent's, and `pantau-agent run` itself
does not load argparse.
"""

from __future__ import annotations

import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from agent import cli
from agent.probes.base import ProbeEnv
from agent.sim.kit import FAULT_ROLES, role_device, station_bus, station_sysfs
from agent.sim.usb_backend import SimDevice, SimulatedUsbBackend

USAGE = ("usage: python -m tests.support.kit_agent [--sysfs DIR] [--extra-hubs N] "
         "[--missing ROLE] [--toggle-on-usr1 ROLE] PANTAU-AGENT-ARGS...")
_OPTIONS = ("--sysfs", "--extra-hubs", "--missing", "--toggle-on-usr1")


def launcher_options(argv: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """The launcher's options (each with its value) and the rest: pantau-agent's arguments."""
    options: dict[str, str] = {}
    rest = list(argv)
    while rest and rest[0] in _OPTIONS:
        if len(rest) < 2:
            raise SystemExit(f"{USAGE}\nkit_agent: {rest[0]} needs a value")
        options[rest[0]] = rest[1]
        rest = rest[2:]
    for name in ("--missing", "--toggle-on-usr1"):
        if options.get(name, FAULT_ROLES[0]) not in FAULT_ROLES:
            raise SystemExit(f"{USAGE}\nkit_agent: {name}: expected one of "
                             f"{', '.join(FAULT_ROLES)}, got {options[name]!r}")
    if not options.get("--extra-hubs", "0").isdigit():
        raise SystemExit(f"{USAGE}\nkit_agent: --extra-hubs: expected a count, "
                         f"got {options['--extra-hubs']!r}")
    return options, rest


def kit_env(sysfs: Path, extra_hubs: int = 0, missing: str | None = None,
            toggle: str | None = None) -> ProbeEnv:
    """A ProbeEnv over a healthy simulated kit, with `missing` unplugged.

    `toggle`: each SIGUSR1 unplugs that role's device, the next plugs it back.
    """
    bus = station_bus("sim", extra_hubs=extra_hubs)
    out = unplug_role(bus, missing) if missing is not None else []
    if toggle is not None:
        held = out if toggle == missing else []

        def flip(*_: object) -> None:  # runs on the main thread, between the loop's waits
            if held:
                for dev in held:
                    bus.plug(dev)
                held.clear()
            else:
                held.extend(unplug_role(bus, toggle))

        signal.signal(signal.SIGUSR1, flip)
    return ProbeEnv(usb_backend=bus, sysfs_root=sysfs)


def unplug_role(bus: SimulatedUsbBackend, role: str) -> list[SimDevice]:
    gone = role_device(role)
    return bus.unplug(lambda d: (d.vid, d.pid) == (gone.vid, gone.pid))


def main(argv: Sequence[str] | None = None) -> int:
    opts, agent_args = launcher_options(sys.argv[1:] if argv is None else argv)
    hubs, missing, toggle = (int(opts.get("--extra-hubs", "0")), opts.get("--missing"),
                             opts.get("--toggle-on-usr1"))
    if "--sysfs" in opts:
        return cli.main(agent_args, kit_env(Path(opts["--sysfs"]), hubs, missing, toggle))
    with tempfile.TemporaryDirectory(prefix="pantau-kit-sysfs-") as tmp:
        sysfs = station_sysfs(Path(tmp))
        return cli.main(agent_args, kit_env(sysfs, hubs, missing, toggle))


if __name__ == "__main__":
    sys.exit(main())
