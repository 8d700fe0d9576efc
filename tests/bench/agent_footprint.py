"""Footprint of `pantau-agent run` next to bare MQTT clients and node_exporter.

Not a test: a script that prints figures. Runs, side by side over the same
minutes, on a private Mosquitto:

  agent       `pantau-agent run` at default intervals (poll 2 s, heartbeat 15 s,
              host 15 s) over a simulated 10-device USB kit and a simulated sysfs
              (the simulator, agent/sim, is in its memory; a station's is not);
  agent (missing ROLE)   with --missing-part: the same, but the kit lacks ROLE
              (unplugged from the simulated bus before the first poll);
  bare        a bare Python process that imports paho, psutil and pyusb and
              holds one MQTT connection — the floor any Python agent pays;
  bare+store  the same, plus what any agent with an outbox pays: msgspec
              imported and a WAL SQLite queue file held open;
  node_exp    prometheus-node-exporter (Debian package), idle on a loopback port.

Before measuring, every process goes through the faults a station meets
(tests/support/fault_round.py), so
that work deferred to the first fault is counted (lazy imports, decoders built
on first use, a reconnect's new client): each agent's kit loses a part and gets
it back (SIGUSR1 to tests/support/kit_agent.py toggles the part in the
simulated USB bus; the fingerprint scanner, or the missing part, which comes
back and goes again), the bench acks the two events as the collector would and
sends a `report` command; then the broker is restarted, and the bench waits
until every process (the bare ones too) is connected again.

Our modules are byte-compiled first (`compileall` on pantau, agent and
tests/support), as the package's postinst does on a station: compiling from
source at each import leaves the heap bigger (this environment sets
PYTHONDONTWRITEBYTECODE=1, so nothing else would write the .pyc files).

Goals: agent RSS <= 1.25x bare RSS, agent CPU <= 0.2 % of one core.
RSS varies by about +-0.3 MiB from run to run: read ratios with that in mind.

    python tests/bench/agent_footprint.py [--minutes 5] [--missing-part [ROLE]]
"""

from __future__ import annotations

import argparse
import compileall
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

from agent.sim.kit import FAULT_ROLES, station_sysfs, station_toml  # noqa: E402
from tests.support.fault_round import run_faults  # noqa: E402
from tests.support.mosquitto import MosquittoBroker, free_port, wait_for  # noqa: E402

WARMUP_S = 15.0  # imports, first connect and first host sample are not the steady state
SAMPLE_S = 5.0
RSS_GOAL, CPU_GOAL = 1.25, 0.2
RSS_NOISE_MIB = 0.3  # run-to-run spread of one process's RSS seen on this benchmark
SITE = "bench"

BASELINE = """
import sys, time
import paho.mqtt.client as mqtt, psutil, usb.core  # noqa: F401  same imports as the agent
from paho.mqtt.enums import CallbackAPIVersion
c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-baseline")
c.connect("127.0.0.1", int(sys.argv[1]), 30)
c.loop_forever()
"""
# The bare client plus the agent's outbox floor: msgspec and a WAL SQLite file
# opened with the queue's pragmas (agent/journal.py), one row written.
BASELINE_STORE = BASELINE.replace("c.loop_forever()", """\
import msgspec, sqlite3  # noqa: F401
db = sqlite3.connect(sys.argv[2], isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE IF NOT EXISTS q (id INTEGER PRIMARY KEY, body BLOB)")
db.execute("INSERT INTO q (body) VALUES (?)", (msgspec.json.encode({"k": 1}),))
c.loop_forever()""").replace("bench-baseline", "bench-baseline-store")


@dataclass
class Series:
    name: str
    proc: subprocess.Popen[bytes]
    station: str = ""  # the agents' station id; "" for the other processes
    part: str = ""  # the part SIGUSR1 takes out of the agent's kit or puts back
    rss: list[int] = field(default_factory=list)
    cpu_start: float = 0.0
    cpu_end: float = 0.0

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.proc.pid).cpu_times()
        return float(times.user + times.system)

    def sample(self) -> None:
        self.rss.append(psutil.Process(self.proc.pid).memory_info().rss)

    def cpu_percent(self, wall: float) -> float:
        return 100.0 * (self.cpu_end - self.cpu_start) / wall


def node_exporter() -> str:
    binary = shutil.which("prometheus-node-exporter")
    if binary is None:
        print("installing prometheus-node-exporter (Debian package) ...", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-qq", "prometheus-node-exporter"],
                       check=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        binary = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"
    return binary


def kit_agent(work: Path, missing: str | None = None) -> list[str]:
    """`pantau-agent` over the simulated kit (two extra hubs), optionally lacking a part;
    SIGUSR1 takes the fingerprint scanner (or the missing part) out or puts it back."""
    sysfs = station_sysfs(work / "sys")
    lacking = ["--missing", missing] if missing else []
    return [sys.executable, "-m", "tests.support.kit_agent", "--sysfs", str(sysfs),
            "--extra-hubs", "2", *lacking, "--toggle-on-usr1", missing or "fingerprint"]


def byte_compile() -> None:
    """What the package's postinst does: our modules' .pyc files, read at import."""
    for tree in ("pantau", "agent", "tests/support"):
        if not compileall.compile_dir(ROOT / tree, quiet=1):
            raise SystemExit(f"compileall failed in {tree}")


def agent_config(work: Path, name: str, broker: MosquittoBroker) -> Path:
    (work / name).mkdir()
    config = work / name / "agent.toml"
    config.write_text(station_toml(name, SITE, broker.url, work / name))
    return config


def check_missing(role: str, config: Path, agent: list[str], env: dict[str, str]) -> None:
    """Prove the kit really lacks `role`: `probe` exits 1 and says missing."""
    probe = subprocess.run([*agent, "--log-level", "ERROR", "probe", "--config", str(config)],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    line = next((ln for ln in probe.stdout.splitlines() if ln.startswith(f"{role} ")), "")
    if probe.returncode != 1 or "missing" not in line:
        raise SystemExit(f"--missing-part {role}: probe did not report it missing "
                         f"(exit {probe.returncode}):\n{probe.stdout}{probe.stderr}")


def spawn(name: str, argv: list[str], env: dict[str, str] | None = None,
          station: str = "", part: str = "") -> Series:
    return Series(name, subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL), station, part)


def start_all(work: Path, broker: MosquittoBroker, missing: str | None) -> list[Series]:
    env, py = {**os.environ, "PYTHONPATH": str(ROOT)}, sys.executable
    run = ["--log-level", "WARNING", "run", "--config"]
    if missing:  # checked before anything starts, so a failed check leaves no process behind
        lacking = agent_config(work, "bench-02", broker)
        check_missing(missing, lacking, kit_agent(work, missing), env)
    config = agent_config(work, "bench-01", broker)
    series = [spawn("pantau-agent", [*kit_agent(work), *run, str(config)], env,
                    "bench-01", "fingerprint")]
    if missing:
        series.append(spawn(f"pantau-agent ({missing} missing)",
                            [*kit_agent(work, missing), *run, str(lacking)], env,
                            "bench-02", missing))
    port = str(broker.port)
    return [*series,
            spawn("bare paho+psutil+pyusb", [py, "-c", BASELINE, port]),
            spawn("bare + SQLite queue + msgspec",
                  [py, "-c", BASELINE_STORE, port, str(work / "bare.sqlite3")]),
            spawn("node_exporter",
                  [node_exporter(), f"--web.listen-address=127.0.0.1:{free_port()}"])]


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


def mib(n: float) -> float:
    return n / 2**20


def print_table(series: list[Series], wall: float) -> None:
    print(f"\nsteady state over {wall / 60:.1f} min (after {WARMUP_S:.0f} s warm-up), "
          f"{len(series[0].rss)} samples each\n")
    print(f"{'process':<34} {'RSS avg MiB':>12} {'RSS max MiB':>12} {'CPU % core':>11}")
    for s in series:
        print(f"{s.name:<34} {mib(sum(s.rss) / len(s.rss)):>12.1f} "
              f"{mib(max(s.rss)):>12.1f} {s.cpu_percent(wall):>11.3f}")


def report(series: list[Series], wall: float) -> bool:
    """Table, then each agent's max RSS against both bare baselines; True if goals met."""
    print_table(series, wall)
    agents = [s for s in series if s.name.startswith("pantau-agent")]
    bare, store = (next(s for s in series if s.name.startswith(p)) for p in ("bare paho", "bare +"))
    print(f"\nRSS ratios use max RSS; each RSS varies about +-{RSS_NOISE_MIB} MiB run to run "
          f"(+-{noise(agents[0], bare):.2f} on the first ratio below).")
    ok = True
    for agent in agents:
        ratio, cpu = max(agent.rss) / max(bare.rss), agent.cpu_percent(wall)
        met = ratio <= RSS_GOAL and cpu <= CPU_GOAL
        ok = ok and met
        print(f"{agent.name}: RSS / bare = {ratio:.2f} (goal <= {RSS_GOAL}), "
              f"RSS / bare+store = {max(agent.rss) / max(store.rss):.2f}; "
              f"CPU = {cpu:.3f} % of a core (goal <= {CPU_GOAL}) -> "
              f"{'MET' if met else 'NOT MET'}")
    return ok


def noise(agent: Series, base: Series) -> float:
    """Worst-case spread of max(agent)/max(base) when each moves by RSS_NOISE_MIB."""
    a, b = mib(max(agent.rss)), mib(max(base.rss))
    return (a / b) * (RSS_NOISE_MIB / a + RSS_NOISE_MIB / b)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="measured minutes (default 5)")
    parser.add_argument("--missing-part", nargs="?", const="fingerprint", choices=FAULT_ROLES,
                        metavar="ROLE", help="also run an agent whose kit lacks ROLE "
                        f"(default fingerprint; one of {', '.join(FAULT_ROLES)})")
    args = parser.parse_args()
    byte_compile()
    print("byte-compiled pantau/, agent/, tests/support/ first, as the package's postinst does")
    with tempfile.TemporaryDirectory(prefix="pantau-bench-") as tmp:
        broker = MosquittoBroker(Path(tmp) / "broker").start()
        series: list[Series] = []
        try:
            series = start_all(Path(tmp), broker, args.missing_part)
            wait_for(lambda: all(psutil.pid_exists(s.proc.pid) for s in series))
            print(run_faults([s for s in series if s.name != "node_exporter"], broker, SITE))
            wall = measure(series, args.minutes * 60.0)
            return 0 if report(series, wall) else 1
        finally:
            for s in series:
                s.proc.terminate()
                s.proc.wait(15)
            broker.stop()


if __name__ == "__main__":
    sys.exit(main())
