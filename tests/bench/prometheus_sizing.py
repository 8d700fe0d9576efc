"""Prometheus memory per station: prints figures, asserts nothing.

    .venv/bin/python -m tests.bench.prometheus_sizing [--stations 5000] [--scrapes 40]

Method. The collector bench's renderer (tests/bench/collector.py run_render:
the real Fleet fed real heartbeats of 5-component stations, the real
MetricsRenderer) writes the /metrics body of N stations to a file. A static
HTTP server serves it; Debian's Prometheus (tests/deploy/binaries.py) scrapes
it once a second, `--scrapes` times. Printed: series per station in the body,
Prometheus' head series, its RSS and Go heap in use, and those per series and
per station. The body does not change between scrapes, so samples compress
better than a live fleet's; the per-series index and label memory, which
dominates the head at this size, is the real one.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import io
import tempfile
import threading
import urllib.request
from pathlib import Path

from tests.bench.collector import run_render
from tests.deploy.binaries import PROMETHEUS, Server
from tests.support.mosquitto import wait_for


def render_body(stations: int, workdir: Path) -> Path:
    body = workdir / "metrics.txt"
    with contextlib.redirect_stdout(io.StringIO()):  # run_render prints its own JSON
        run_render(stations, body)
    return body


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_args: object) -> None:
        pass


def serve(directory: Path) -> http.server.ThreadingHTTPServer:
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def prometheus(workdir: Path, target: str) -> Server:
    config = workdir / "prometheus.yml"
    config.write_text("global: {scrape_interval: 1s}\nscrape_configs:\n"
                      "  - job_name: pantau-collector\n    metrics_path: /metrics.txt\n"
                      f"    static_configs: [{{targets: ['{target}']}}]\n")
    return Server(lambda port, wd: [PROMETHEUS, f"--config.file={config}",
                                    f"--storage.tsdb.path={wd / 'data'}",
                                    f"--web.listen-address=127.0.0.1:{port}"],
                  workdir / "prometheus", "/-/ready").start()


def own_metric(server: Server, name: str) -> float:
    """Prometheus' own metric, summed over its label sets."""
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as resp:
        return sum(float(line.rsplit(" ", 1)[1]) for line in resp.read().decode().splitlines()
                   if line.startswith((name + " ", name + "{")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=5000)
    parser.add_argument("--scrapes", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pantau-prom-sizing-") as tmp:
        workdir = Path(tmp)
        body = render_body(args.stations, workdir)
        size_mb = body.stat().st_size / 1e6
        lines = [line for line in body.read_text().splitlines() if line and line[0] != "#"]
        per_station = sum('station="' in line for line in lines) / args.stations
        web = serve(workdir)
        server = prometheus(workdir, f"127.0.0.1:{web.server_address[1]}")
        try:
            appended = "prometheus_tsdb_head_samples_appended_total"
            wait_for(lambda: own_metric(server, appended) >= args.scrapes * len(lines),
                     30 + 3 * args.scrapes, interval=0.5, what=f"{args.scrapes} scrapes")
            series = own_metric(server, "prometheus_tsdb_head_series")
            rss = own_metric(server, "process_resident_memory_bytes")
            heap = own_metric(server, "go_memstats_heap_inuse_bytes")
        finally:
            server.stop()
            web.shutdown()
    print(f"{args.stations} stations: {len(lines)} samples in /metrics, "
          f"{per_station:.1f} with a station label per station, {size_mb:.1f} MB")
    print(f"Prometheus after {args.scrapes} scrapes: {series:.0f} head series, "
          f"RSS {rss / 2**20:.0f} MiB, Go heap in use {heap / 2**20:.0f} MiB")
    print(f"per head series: RSS {rss / series:.0f} B, heap {heap / series:.0f} B; "
          f"per station: RSS {rss / args.stations / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
