"""`pantau-agent` over a simulated e-KTP kit: the real commands, a fake USB bus and sysfs.

    python -m tests.support.kit_agent [--sysfs DIR] [--extra-hubs N] [--missing ROLE] \\
        run --config /etc/pantau/agent.toml

Everything after the launcher's own options is `pantau-agent`'s command line,
run by `agent.cli.main` with a `ProbeEnv` whose USB backend is a simulated
healthy kit (pyusb's real code paths over a fake backend object) and whose
sysfs is DIR (default: a temporary one with the operator monitor connected).
For tests and benchmarks on machines without the kit: the hardware boundary
is the one place a fake stands in.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from agent import cli
from agent.probes.base import ProbeEnv
from agent.sim.kit import FAULT_ROLES, role_device, station_bus, station_sysfs


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tests.support.kit_agent",
                                description="pantau-agent over a simulated e-KTP kit")
    p.add_argument("--sysfs", type=Path, help="sysfs root (default: a temporary one with a "
                   "connected monitor)")
    p.add_argument("--extra-hubs", type=int, default=0, metavar="N",
                   help="plug N more USB hubs into the kit (never unexpected)")
    p.add_argument("--missing", choices=FAULT_ROLES, metavar="ROLE",
                   help=f"leave one part out of the kit: {', '.join(FAULT_ROLES)}")
    return p


def kit_env(sysfs: Path, extra_hubs: int = 0, missing: str | None = None) -> ProbeEnv:
    """A ProbeEnv over a healthy simulated kit, with `missing` unplugged."""
    bus = station_bus("sim", extra_hubs=extra_hubs)
    if missing is not None:
        gone = role_device(missing)
        bus.unplug(lambda d: (d.vid, d.pid) == (gone.vid, gone.pid))
    return ProbeEnv(usb_backend=bus, sysfs_root=sysfs)


def main(argv: Sequence[str] | None = None) -> int:
    # Everything the launcher does not know is pantau-agent's, in its order.
    args, agent_args = _parser().parse_known_args(argv)
    if args.sysfs is not None:
        return cli.main(agent_args, kit_env(args.sysfs, args.extra_hubs, args.missing))
    with tempfile.TemporaryDirectory(prefix="pantau-kit-sysfs-") as tmp:
        sysfs = station_sysfs(Path(tmp))
        return cli.main(agent_args, kit_env(sysfs, args.extra_hubs, args.missing))


if __name__ == "__main__":
    sys.exit(main())
