"""Arguments of `pantau-agent simulate`, kept apart so `run` never imports the simulator."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_simulate_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("simulate", help="run a simulated fleet in this process (same code paths)")
    p.add_argument("--broker", required=True, action="append",
                   help="mqtt://host:port or mqtts://host:port; repeat it for each node of a "
                   "broker cluster")
    p.add_argument("--stations", type=_positive_int, default=150, help="stations (default 150)")
    p.add_argument("--sites", type=_positive_int, default=21,
                   help="sites; the first 21 are Medan's kecamatan (default 21)")
    p.add_argument("--site-offset", type=int, default=0, metavar="K",
                   help="start at site number K, so several processes share one fleet")
    p.add_argument("--interval", type=_positive_float, default=15.0,
                   help="heartbeat interval in seconds (default 15)")
    p.add_argument("--faults", type=_non_negative_float, default=0.05,
                   help="faults per station per minute (default 0.05; 0 = none)")
    p.add_argument("--seed", type=int, default=1, help="random seed: same seed, same fleet")
    p.add_argument("--duration", type=_non_negative_float, default=0.0,
                   help="stop after this many seconds (default 0: until Ctrl-C)")
    p.add_argument("--registry-out", metavar="FILE",
                   help="write a fleet.toml for these stations (for the collector)")
    p.add_argument("--workdir", type=Path, help="keep queue files here (default: a temp dir)")
    p.set_defaults(handler=_run_simulation)


def _run_simulation(args: argparse.Namespace) -> int:
    from agent.sim.fleet import cmd_simulate  # the fleet code loads only for this command

    return cmd_simulate(args)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value
