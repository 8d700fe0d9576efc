"""`pantau-collector run | check-config | hash-password | replay-rejected`: commands and
flags are a contract.

Exit codes: 0 clean stop (SIGTERM/SIGINT), valid config, or every stored refused event
replayed; 2 refused configuration or registry (the message names file, key and reason);
1 could not start (port taken, TLS files unreadable) or, for replay-rejected, no history
database to read; 3 (replay-rejected) some stored events are still refused by this version.
A history database that cannot be opened does not stop `run`: it is retried, counted
and reported by /readyz and /metrics, and a corrupt one is set aside.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from collector.app import build_app
from collector.config import CliOverrides, CollectorConfig, load_collector_config
from collector.errors import CollectorError
from collector.http_passwords import users_line
from collector.http_tls import server_context
from collector.registry import Registry, RegistryError, load_registry
from collector.replay import ReplayError, replay_rejected
from collector.schedule import REAL_TIME, ScheduleClock
from collector.site_schedule import holiday_warnings
from collector.store import DB_NAME
from pantau.config import ConfigError
from pantau.logs import setup_logging
from pantau.sd_notify import Notifier

log = logging.getLogger("pantau.collector")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pantau-collector", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="collect station messages and serve /metrics, /api, /")
    run.add_argument("--config", type=Path, help="TOML file (default /etc/pantau/collector.toml)")
    run.add_argument("--broker", action="append", help="mqtt://host:port or mqtts://host:port; "
                     "repeat it for each node of a broker cluster, tried in order")
    run.add_argument("--listen", help="HTTP HOST:PORT (default 127.0.0.1:9620)")
    run.add_argument("--registry", type=Path, help="fleet registry TOML")
    run.add_argument("--data-dir", type=Path, help="directory for the history database")
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    check = sub.add_parser("check-config", help="validate the config and registry, then exit")
    check.add_argument("--config", type=Path, help="TOML file (default /etc/pantau/collector.toml)")
    hashpw = sub.add_parser("hash-password", help="read a password from stdin, print the "
                            "USER:HASH line for [http] basic_auth_users_file")
    hashpw.add_argument("user", help="the user name Prometheus (or a person) logs in with")
    replay = sub.add_parser("replay-rejected", help="after an upgrade, add the stored events "
                            "an older version refused to the history")
    replay.add_argument("--config", type=Path,
                        help="TOML file (default /etc/pantau/collector.toml)")
    replay.add_argument("--data-dir", type=Path, help="directory of the history database")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging(getattr(args, "log_level", "INFO"))
    if args.command == "hash-password":
        return _hash_password(args.user)
    brokers = getattr(args, "broker", None)  # a list: --broker may be repeated
    overrides = CliOverrides(
        broker=tuple(brokers) if brokers else None, listen=getattr(args, "listen", None),
        registry=getattr(args, "registry", None), data_dir=getattr(args, "data_dir", None),
    )
    try:
        config = load_collector_config(args.config, overrides)
        if args.command == "replay-rejected":
            return _replay(config)
        registry = _registry(config)
    except (ConfigError, RegistryError) as exc:
        print(f"pantau-collector: configuration refused: {exc}", file=sys.stderr)
        return 2
    if args.command == "check-config":
        for warning in holiday_warnings(registry, time.time()):
            print(f"pantau-collector: warning: {warning}", file=sys.stderr)
        print(f"{config.source}: ok ({len(registry.stations)} stations in the registry)")
        return 0
    try:
        return asyncio.run(serve(config, registry))
    except (CollectorError, OSError) as exc:
        print(f"pantau-collector: cannot start: {exc}", file=sys.stderr)
        return 1


def _registry(config: CollectorConfig) -> Registry:
    if config.registry is None:
        return Registry.empty()
    return load_registry(config.registry)


def _replay(config: CollectorConfig) -> int:
    try:
        report = replay_rejected(config.state.data_dir / DB_NAME, config.topic_root, time.time())
    except ReplayError as exc:
        print(f"pantau-collector: replay-rejected: {exc}", file=sys.stderr)
        return 1
    print(f"pantau-collector: {report.summary()}")
    return 3 if report.refused else 0


def _hash_password(user: str) -> int:
    """No echo on a terminal (asked twice); else the first line of stdin, as in a pipe."""
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("pantau-collector: the passwords differ; nothing written", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        print(users_line(user, password))
    except ValueError as exc:
        print(f"pantau-collector: hash-password: {exc}", file=sys.stderr)
        return 2
    return 0


async def serve(
    config: CollectorConfig, registry: Registry, *, schedule_clock: ScheduleClock = REAL_TIME
) -> int:
    """Run until SIGTERM/SIGINT; `schedule_clock`: see build_app (the demo compresses days)."""
    notifier = Notifier.from_env()
    http = config.http
    # Loaded again (check-config loaded it too): a file changed since then fails here, exit 1.
    tls = None
    if http.tls_cert_file is not None and http.tls_key_file is not None:
        tls = server_context(http.tls_cert_file, http.tls_key_file)
    if http.users and tls is None:
        log.warning("basic auth without TLS: passwords cross the network in clear text; "
                    "set [http] tls_cert_file and tls_key_file unless listening on loopback")
    app = build_app(config, registry, schedule_clock=schedule_clock)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, http.host, http.port, ssl_context=tls).start()
        nodes = ", ".join(node.url for node in config.broker.endpoints)
        log.info("serving %s, broker %s", http.url, nodes)
        notifier.ready(f"serving on {config.http.host}:{config.http.port}")
        await _until_signalled(notifier)
        notifier.stopping()
    finally:
        await runner.cleanup()
    return 0


async def _until_signalled(notifier: Notifier) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    interval = notifier.watchdog_interval_s
    while not stop.is_set():
        # The watchdog ping comes from the loop itself, so a wedged loop gets restarted.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval or 3600.0)
        if interval is not None:
            notifier.watchdog()
    log.info("stopping")


if __name__ == "__main__":
    sys.exit(main())
