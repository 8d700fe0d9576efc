"""`pantau-agent`: run | probe | check-config | simulate.

Exit codes: 0 fine; 1 `probe` found a required part not OK; 2 the command
could not do its job (bad config, unwritable queue, bad arguments).

The hardware the probes read is passed in (`main(argv, probe_env)`): the real
USB bus and /sys by default.

`run`, the command a station keeps running, is read without argparse when its
command line has the usual shape (`_run_args`): argparse and gettext would stay
in the service's memory (~0.35 MiB) for a parse done once. Anything else,
including every mistake, goes to argparse, which words the errors and the help.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

from agent.config import AgentConfig, load_config
from agent.errors import AgentError
from agent.probes.base import ProbeEnv
from pantau import __version__
from pantau.config import ConfigError
from pantau.logs import setup_logging

DEFAULT_CONFIG = Path("/etc/pantau/agent.toml")
DEFAULT_LOG_LEVEL = "INFO"
log = logging.getLogger("pantau.agent")

if TYPE_CHECKING:
    import argparse


def main(argv: Sequence[str] | None = None, probe_env: ProbeEnv | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _run_args(argv) or _parser().parse_args(argv)
    args.probe_env = probe_env if probe_env is not None else ProbeEnv()
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(f"pantau-agent: config error: {exc}", file=sys.stderr)
        print("Fix the file, then check it with: pantau-agent check-config --config FILE",
              file=sys.stderr)
        return 2
    except AgentError as exc:
        print(f"pantau-agent: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _run_args(argv: Sequence[str]) -> SimpleNamespace | None:
    """`[--log-level L] run [--config F]` (also `--opt=value`) as argparse would read it;
    None for any other command line, so that argparse handles it."""
    values: dict[str, str] = {}
    names, command, rest = {"--log-level": "log_level"}, "", list(argv)
    while rest:
        head = rest.pop(0)
        if head == "run" and not command:
            names, command = {"--config": "config"}, head
            continue
        name, eq, value = head.partition("=")
        if name not in names:
            return None
        if not eq:
            if not rest or rest[0].startswith("-"):
                return None
            value = rest.pop(0)
        values[names[name]] = value
    if not command:
        return None
    return SimpleNamespace(command=command, handler=cmd_run,
                           log_level=values.get("log_level", DEFAULT_LOG_LEVEL),
                           config=Path(values.get("config", DEFAULT_CONFIG)))


def _parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(prog="pantau-agent", description="Pantau station agent")
    parser.add_argument("--version", action="version", version=f"pantau-agent {__version__}")
    parser.add_argument("--log-level", default=DEFAULT_LOG_LEVEL,
                        help="DEBUG, INFO, WARNING (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="watch the kit and report to the broker until stopped")
    _config_arg(run)
    run.set_defaults(handler=cmd_run)
    probe = sub.add_parser("probe", help="check once what is attached against the inventory")
    _config_arg(probe)
    probe.add_argument("--json", action="store_true", help="machine-readable output")
    probe.set_defaults(handler=cmd_probe)
    check = sub.add_parser("check-config", help="validate the config and print a summary")
    _config_arg(check)
    check.set_defaults(handler=cmd_check_config)
    from agent.sim.args import add_simulate_parser  # the fleet code loads lazily

    add_simulate_parser(sub)
    return parser


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                        help=f"station config (default {DEFAULT_CONFIG})")


# --- commands -------------------------------------------------------------------

def cmd_run(args: argparse.Namespace | SimpleNamespace) -> int:
    setup_logging(args.log_level)
    config = load_config(args.config)
    from agent.service import AgentService
    from pantau.sd_notify import Notifier

    service = AgentService(config, args.probe_env, notifier=Notifier.from_env())
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: service.stop())
    return service.run()


def cmd_probe(args: argparse.Namespace) -> int:
    setup_logging("ERROR" if args.json else "WARNING")
    config = load_config(args.config)
    from agent.probe_report import render_json, render_table, required_ok
    from agent.probe_runner import probe_once

    heartbeat, errors = probe_once(config, args.probe_env)
    if args.json:
        print(render_json(heartbeat, errors))
    else:
        print(render_table(config, heartbeat, colour=sys.stdout.isatty()))
    return 0 if required_ok(heartbeat.components) else 1


def cmd_check_config(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    print(describe_config(config))
    return 0


def describe_config(config: AgentConfig) -> str:
    b, i = config.broker, config.intervals
    nodes = ", ".join(node.url for node in b.endpoints)
    lines = [
        f"{config.source}: OK",
        f"  station {config.station} at site {config.site}"
        + (f", profiles: {', '.join(config.profiles)}" if config.profiles else ""),
        f"  broker {nodes} (client id {b.client_id or 'pantau-agent-' + config.station}"
        + (f", user {b.username}" if b.username else "") + ")",
        f"  every {i.poll_s:g} s probe, {i.heartbeat_s:g} s heartbeat, {i.host_s:g} s host",
        f"  queue {config.queue.path} (max {config.queue.max_bytes // 2**20} MiB, "
        f"{config.queue.max_age_s / 86400:g} days)",
        f"  {len(config.components)} components:",
    ]
    for c in config.components:
        need = "required" if c.required else "optional"
        lines.append(f"    {c.id:<16} {c.kind:<8} {need:<9} {c.description}")
    lines.append(f"  {len(config.checks)} checks:")
    lines += [f"    {c.id:<16} {c.kind:<8} {c.target}" for c in config.checks]
    return "\n".join(lines)


if __name__ == "__main__":
    # `python -m agent.cli`: run the importable module, not this __main__ copy,
    # so its exception classes are the ones other modules raise.
    from agent import cli

    sys.exit(cli.main())
