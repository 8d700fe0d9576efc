"""Footprint of `pantau-agent run` next to a bare MQTT client and node_exporter.

Not a test: a script that prints figures. Runs, side by side over the same
minutes, on a private Mosquitto:

  agent      `pantau-agent run` at default intervals (poll 2 s, heartbeat 15 s,
             host 15 s) over a simulated 10-device USB kit and a simulated sysfs;
  baseline   a bare Python process that imports paho, psutil and pyusb and
             holds one MQTT connection — the floor any Python agent pays;
  node_exp   prometheus-node-exporter (Debian package), idle on a loopback port.

Goals: agent RSS <= 1.25x baseline RSS, agent CPU <= 0.2 % of one core.

    python tests/bench/agent_footprint.py [--minutes 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from agent.simulate_kit import station_sysfs, station_toml  # noqa: E402
from tests.support.mosquitto import MosquittoBroker, free_port, wait_for  # noqa: E402

WARMUP_S = 15.0  # imports, first connect and first host sample are not the steady state
SAMPLE_S = 5.0
RSS_GOAL, CPU_GOAL = 1.25, 0.2

BASELINE = """
import sys, time
import paho.mqtt.client as mqtt, psutil, usb.core  # noqa: F401  same imports as the agent
from paho.mqtt.enums import CallbackAPIVersion
c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-baseline")
c.connect("127.0.0.1", int(sys.argv[1]), 30)
c.loop_forever()
"""


@dataclass
class Series:
    name: str
    proc: subprocess.Popen[bytes]
    rss: list[int] = field(default_factory=list)
    cpu_start: float = 0.0
    cpu_end: float = 0.0

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.proc.pid).cpu_times()
        return float(times.user + times.system)

    def sample(self) -> None:
        self.rss.append(psutil.Process(self.proc.pid).memory_info().rss)


def node_exporter() -> str:
    binary = shutil.which("prometheus-node-exporter")
    if binary is None:
        print("installing prometheus-node-exporter (Debian package) ...", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-qq", "prometheus-node-exporter"],
                       check=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        binary = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"
    return binary


def start_all(work: Path, broker: MosquittoBroker) -> list[Series]:
    sysfs = station_sysfs(work / "sys")
    config = work / "agent.toml"
    config.write_text(station_toml("bench-01", "bench", broker.url, work))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PANTAU_SIMULATED_USB": "kit:2",
           "PANTAU_SYSFS_ROOT": str(sysfs)}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    agent = subprocess.Popen([sys.executable, "-m", "agent.cli", "--log-level", "WARNING",
                              "run", "--config", str(config)], cwd=ROOT, env=env, **quiet)
    base = subprocess.Popen([sys.executable, "-c", BASELINE, str(broker.port)], **quiet)
    exporter = subprocess.Popen([node_exporter(),
                                 f"--web.listen-address=127.0.0.1:{free_port()}"], **quiet)
    return [Series("pantau-agent", agent), Series("bare paho+psutil+pyusb", base),
            Series("node_exporter", exporter)]


def measure(series: list[Series], seconds: float) -> float:
    time.sleep(WARMUP_S)
    for s in series:
        s.cpu_start = s.cpu_seconds()
    began = time.monotonic()
    while (left := began + seconds - time.monotonic()) > 0:
        for s in series:
            if s.proc.poll() is not None:
                raise SystemExit(f"{s.name} exited early with {s.proc.returncode}")
            s.sample()
        time.sleep(min(SAMPLE_S, left))
    for s in series:
        s.cpu_end = s.cpu_seconds()
        s.sample()
    return time.monotonic() - began


def report(series: list[Series], wall: float) -> bool:
    print(f"\nsteady state over {wall / 60:.1f} min (after {WARMUP_S:.0f} s warm-up), "
          f"{len(series[0].rss)} samples each\n")
    print(f"{'process':<26} {'RSS avg MiB':>12} {'RSS max MiB':>12} {'CPU % core':>11}")
    for s in series:
        cpu = 100.0 * (s.cpu_end - s.cpu_start) / wall
        print(f"{s.name:<26} {sum(s.rss) / len(s.rss) / 2**20:>12.1f} "
              f"{max(s.rss) / 2**20:>12.1f} {cpu:>11.3f}")
    agent, base = series[0], series[1]
    ratio = max(agent.rss) / max(base.rss)
    cpu = 100.0 * (agent.cpu_end - agent.cpu_start) / wall
    ok = ratio <= RSS_GOAL and cpu <= CPU_GOAL
    print(f"\nagent RSS / baseline RSS = {ratio:.2f} (goal <= {RSS_GOAL}); "
          f"agent CPU = {cpu:.3f} % of a core (goal <= {CPU_GOAL}) -> "
          f"{'MET' if ok else 'NOT MET'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="measured minutes (default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pantau-bench-") as tmp:
        broker = MosquittoBroker(Path(tmp) / "broker").start()
        series: list[Series] = []
        try:
            series = start_all(Path(tmp), broker)
            wait_for(lambda: all(psutil.pid_exists(s.proc.pid) for s in series))
            wall = measure(series, args.minutes * 60.0)
            return 0 if report(series, wall) else 1
        finally:
            for s in series:
                s.proc.terminate()
                s.proc.wait(15)
            broker.stop()


if __name__ == "__main__":
    sys.exit(main())
