"""`python -m stack.collector_run`: `pantau-collector run` with a compressed office day.

For the demo and the end-to-end tests only (operators run `pantau-collector`):
the same configuration, registry and `serve()`, plus an office clock that
starts at `--start-at` and passes a day in `--day-length` seconds
(stack/compressed_day.py). `--real-start` pins the real instant the office
clock starts from, so the caller knows the mapping exactly.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from collector.cli import serve
from collector.config import CliOverrides, load_collector_config
from collector.registry import load_registry
from pantau.config import ConfigError
from pantau.logs import setup_logging
from stack.compressed_day import compressed_day


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stack.collector_run", description=__doc__)
    parser.add_argument("--broker", required=True)
    parser.add_argument("--listen", required=True)
    parser.add_argument("--registry", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--start-at", help="office local time HH:MM or YYYY-MM-DDTHH:MM")
    parser.add_argument("--day-length", type=float, help="real seconds per office day")
    parser.add_argument("--zone", default="Asia/Jakarta", help="time zone of --start-at")
    parser.add_argument("--real-start", type=float, help="epoch the office clock starts from")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging("INFO")
    overrides = CliOverrides(broker=args.broker, listen=args.listen, registry=args.registry,
                             data_dir=args.data_dir)
    try:
        config = load_collector_config(None, overrides)
        registry = load_registry(args.registry)
        day = compressed_day(args.start_at, args.day_length, args.zone,
                             args.real_start or time.time())
    except (ConfigError, ValueError) as exc:
        print(f"stack.collector_run: refused: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(serve(config, registry, schedule_clock=day))


if __name__ == "__main__":
    sys.exit(main())
