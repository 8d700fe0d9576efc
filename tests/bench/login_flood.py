"""Ingest during a flood of bad logins: prints figures, asserts nothing.

    python -m tests.bench.login_flood [--stations 10000] [--rounds 10] [--logins 1000]
        [--concurrency 50] [--repeat 3]

Method (the drain of tests/bench/collector.py, with the collector serving HTTPS-less basic
auth at the real scrypt cost): a private Mosquitto holds `stations x rounds` heartbeats
queued for the collector's persistent session, and is then frozen (SIGSTOP). The collector
starts in its own process with a users file, serves HTTP and sends its CONNECT, which the
frozen broker leaves unanswered. In the "with" runs a separate process starts `--logins`
bad logins (`--concurrency` at a time) and, once the first answer is back (hashing under
way), the broker is thawed: the collector drains the queue while the logins keep coming.
The "without" runs are the same minus the logins. Rate = heartbeats / (last - first
receipt), measured inside the collector; each mode runs `--repeat` times, interleaved, and
keeps its best run (the others are the neighbours' load on a shared machine).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import IO

from tests.bench.collector import _report, flood, register_session
from tests.support.mosquitto import MosquittoBroker, free_port

PASSWORD = "the-real-one"


def run_collector(config: Path, expected: int) -> None:
    """Child: the collector app from `config`, HTTP served; reports its drain rate."""
    from aiohttp import web

    from collector.app import build_app
    from collector.app_keys import STATS_KEY
    from collector.config import CliOverrides, load_collector_config
    from collector.registry import Registry

    async def main() -> None:
        conf = load_collector_config(config, CliOverrides())
        app = build_app(conf, Registry.empty())
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, conf.http.host, conf.http.port).start()
        print(json.dumps({"serving": True}), flush=True)
        stats, first, deadline = app[STATS_KEY], 0.0, time.monotonic() + 600
        while stats.messages["heartbeat"] < expected and time.monotonic() < deadline:
            first = first or (time.perf_counter() if stats.messages["heartbeat"] else 0.0)
            await asyncio.sleep(0.01)
        _report(stats.messages["heartbeat"], first, time.perf_counter())
        await runner.cleanup()

    asyncio.run(main())


def run_logins(url: str, count: int, concurrency: int) -> None:
    """Child: `count` bad logins, `concurrency` at a time; counts answers until done or
    SIGTERM, then prints them."""
    import aiohttp

    async def main() -> None:
        answers: Counter[int] = Counter()
        started = time.monotonic()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        todo = iter(range(count))

        async def worker(http: aiohttp.ClientSession) -> None:
            for i in todo:
                token = base64.b64encode(f"prometheus:guess-{i}".encode()).decode()
                async with http.get(url, headers={"Authorization": f"Basic {token}"}) as resp:
                    await resp.read()
                    if not answers:
                        print(json.dumps({"started": True}), flush=True)
                    answers[resp.status] += 1

        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            workers = asyncio.gather(*(worker(http) for _ in range(concurrency)))
            await asyncio.wait([workers, asyncio.ensure_future(stop.wait())],
                               return_when=asyncio.FIRST_COMPLETED)
            workers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await workers
        print(json.dumps({"answers": dict(answers),
                          "seconds": round(time.monotonic() - started, 1)}), flush=True)

    asyncio.run(main())


def _child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.bench.login_flood", *args],
                            stdout=subprocess.PIPE, text=True)


def _line(stream: IO[str] | None) -> dict[str, object]:
    assert stream is not None
    for text in stream:
        if text.startswith("{"):
            return dict(json.loads(text))
    return {"error": "the child ended without a report"}


def write_config(workdir: Path, broker: MosquittoBroker, client_id: str, port: int) -> Path:
    from collector.http_passwords import users_line

    users = workdir / "users"
    users.write_text(users_line("prometheus", PASSWORD) + "\n")  # the real scrypt cost
    config = workdir / f"{client_id}.toml"
    config.write_text(
        f'[broker]\nurl = "{broker.url}"\nclient_id = "{client_id}"\n'
        "connect_timeout_s = 300\n"
        f'[http]\nlisten = "127.0.0.1:{port}"\nbasic_auth_users_file = "{users}"\n'
        f'[state]\ndata_dir = "{workdir / client_id}"\n')
    return config


def one_run(broker: MosquittoBroker, workdir: Path, opts: argparse.Namespace,
            with_logins: bool) -> dict[str, object]:
    client_id = f"bench-login-{uuid.uuid4().hex[:6]}"
    register_session(broker.port, client_id)
    flood(broker.port, opts.stations, opts.rounds)
    port = free_port()
    config = write_config(workdir, broker, client_id, port)
    assert broker.proc is not None
    broker.proc.send_signal(signal.SIGSTOP)
    collector = _child("--role", "collector", str(config),
                       str(opts.stations * opts.rounds))
    logins = None
    try:
        _line(collector.stdout)  # serving
        if with_logins:
            logins = _child("--role", "logins", f"http://127.0.0.1:{port}/metrics",
                            str(opts.logins), str(opts.concurrency))
            _line(logins.stdout)  # the first bad login was answered: hashing under way
        broker.proc.send_signal(signal.SIGCONT)
        result = _line(collector.stdout)
        if logins is not None:
            logins.send_signal(signal.SIGTERM)
            result["logins_when_drained"] = _line(logins.stdout)
    finally:
        broker.proc.send_signal(signal.SIGCONT)
        for proc in (collector, logins):
            if proc is not None:
                proc.kill()
                proc.wait()
    return result


def _rate(result: dict[str, object]) -> float:
    rate = result.get("rate")
    return rate if isinstance(rate, float) else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--logins", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--role")
    parser.add_argument("args", nargs="*")
    opts = parser.parse_args()
    if opts.role == "collector":
        return run_collector(Path(opts.args[0]), int(opts.args[1]))
    if opts.role == "logins":
        return run_logins(opts.args[0], int(opts.args[1]), int(opts.args[2]))
    workdir = Path(tempfile.mkdtemp(prefix="pantau-bench-login-"))
    broker = MosquittoBroker(workdir / "mq", extra_config=(
        "queue_qos0_messages true\nmax_queued_messages 0\nmax_queued_bytes 0\n"
        "max_inflight_messages 0\n")).start()
    runs: dict[str, list[dict[str, object]]] = {"without logins": [], "with logins": []}
    try:
        for _ in range(opts.repeat):
            for mode, results in runs.items():
                results.append(one_run(broker, workdir, opts, mode == "with logins"))
    finally:
        broker.stop()
    print(f"cpu cores: {os.cpu_count()}; {opts.stations * opts.rounds} heartbeats drained; "
          f"{opts.logins} bad logins, {opts.concurrency} at a time")
    best = {mode: max(results, key=_rate) for mode, results in runs.items()}
    for mode, results in runs.items():
        print(f"  {mode:15s}: best {_rate(best[mode]):,.0f} msg/s  "
              f"(all: {[round(_rate(r)) for r in results]})  {best[mode]}")
    base = _rate(best["without logins"])
    medians = {mode: statistics.median(map(_rate, results)) for mode, results in runs.items()}
    if base and medians["without logins"]:
        print(f"  with / without = {_rate(best['with logins']) / base:.2f} best, "
              f"{medians['with logins'] / medians['without logins']:.2f} median  "
              "(goal >= 0.90)")


if __name__ == "__main__":
    main()
