"""`pantau-collector run | check-config` (contract: DESIGN.md "Command line").

Exit codes: 0 clean stop (SIGTERM/SIGINT) or valid config; 2 refused
configuration or registry (the message names file, key and reason); 1 could
not start (port taken, data_dir not writable).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from agent.config import ConfigError
from agent.sd_notify import Notifier
from collector.app import build_app
from collector.config import CliOverrides, CollectorConfig, load_collector_config
from collector.ingest import IngestError
from collector.registry import Registry, RegistryError, load_registry
from collector.store import StoreError

log = logging.getLogger("pantau.collector")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pantau-collector", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="collect station messages and serve /metrics, /api, /")
    run.add_argument("--config", type=Path, help="TOML file (default /etc/pantau/collector.toml)")
    run.add_argument("--broker", help="mqtt://host:port or mqtts://host:port")
    run.add_argument("--listen", help="HTTP HOST:PORT (default 127.0.0.1:9620)")
    run.add_argument("--registry", type=Path, help="fleet registry TOML")
    run.add_argument("--data-dir", type=Path, help="directory for the history database")
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    check = sub.add_parser("check-config", help="validate the config and registry, then exit")
    check.add_argument("--config", type=Path, help="TOML file (default /etc/pantau/collector.toml)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(args, "log_level", "INFO"), stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    overrides = CliOverrides(
        broker=getattr(args, "broker", None), listen=getattr(args, "listen", None),
        registry=getattr(args, "registry", None), data_dir=getattr(args, "data_dir", None),
    )
    try:
        config = load_collector_config(args.config, overrides)
        registry = _registry(config)
    except (ConfigError, RegistryError) as exc:
        print(f"pantau-collector: configuration refused: {exc}", file=sys.stderr)
        return 2
    if args.command == "check-config":
        print(f"{config.source}: ok ({len(registry.stations)} stations in the registry)")
        return 0
    try:
        return asyncio.run(serve(config, registry))
    except (StoreError, IngestError, OSError) as exc:
        print(f"pantau-collector: cannot start: {exc}", file=sys.stderr)
        return 1


def _registry(config: CollectorConfig) -> Registry:
    if config.registry is None:
        return Registry.empty()
    return load_registry(config.registry)


async def serve(config: CollectorConfig, registry: Registry) -> int:
    notifier = Notifier.from_env()
    runner = web.AppRunner(build_app(config, registry), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, config.http.host, config.http.port).start()
        log.info("serving http://%s:%d, broker %s", config.http.host, config.http.port,
                 config.broker.url)
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
