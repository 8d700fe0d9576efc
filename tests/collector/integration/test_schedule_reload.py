"""Opening hours in the running collector: /metrics rows, SIGHUP re-reads the schedule and
its holidays file, check-config warns about a holiday list without this year.

`pantau-collector` runs as a subprocess against a real broker, as operators run it.
"""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.collector.integration.test_cli_run import REPO, collector_cmd, http_status
from tests.support.mosquitto import MosquittoBroker, free_port, wait_for

pytestmark = pytest.mark.broker
JAKARTA = ZoneInfo("Asia/Jakarta")
ALL_DAY = ", ".join(f'{d} = ["00:00-24:00"]' for d in ("mon", "tue", "wed", "thu", "fri", "sat",
                                                      "sun"))


def fleet(holidays_file: str = "holidays.toml", hours: str = ALL_DAY) -> str:
    return f"""
[schedule]
timezone = "Asia/Jakarta"
holidays_file = "{holidays_file}"
hours = {{ {hours} }}
[sites.kota]
[stations.kota-01]
site = "kota"
"""


def this_year() -> int:
    return datetime.now(JAKARTA).year


@pytest.fixture
def collector(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    (tmp_path / "holidays.toml").write_text(f"holidays = [{this_year()}-08-17]\n")
    registry = tmp_path / "fleet.toml"
    registry.write_text(fleet())
    port = free_port()
    proc = subprocess.Popen(
        collector_cmd("run", "--broker", mosquitto.url, "--listen", f"127.0.0.1:{port}",
                      "--registry", str(registry), "--data-dir", str(tmp_path / "data")),
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=(tmp_path / "log").open("wb"),
    )
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: http_status(base + "/healthz")[0] == 200, 20, what="/healthz 200")
    try:
        yield proc, base, registry
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0


def metric(base: str, name: str) -> str | None:
    found = re.search(rf"^{name} (\S+)$", http_status(base + "/metrics")[1].decode(), re.M)
    return found[1] if found else None


def test_sighup_rereads_hours_and_holidays(
    collector: tuple[subprocess.Popen[bytes], str, Path], tmp_path: Path
) -> None:
    proc, base, registry = collector
    assert metric(base, 'pantau_site_open{site="kota"}') == "1"  # open around the clock
    assert metric(base, "pantau_schedule_sites_without_holidays_this_year") == "0"
    # Closed every day, and a holidays file without this year: both take effect on SIGHUP.
    (tmp_path / "old-holidays.toml").write_text("holidays = [2000-01-01]\n")
    registry.write_text(fleet("old-holidays.toml", hours=""))  # no weekday listed: closed
    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: metric(base, 'pantau_site_open{site="kota"}') == "0", 10,
             what="the reloaded hours in /metrics")
    assert metric(base, "pantau_schedule_sites_without_holidays_this_year") == "1"
    assert "no holiday in" in (tmp_path / "log").read_text()  # logged at reload


def test_check_config_warns_about_a_holiday_list_without_this_year(tmp_path: Path) -> None:
    (tmp_path / "holidays.toml").write_text("holidays = [2000-01-01]\n")
    (tmp_path / "fleet.toml").write_text(fleet())
    config = tmp_path / "collector.toml"
    config.write_text(f'registry = "{tmp_path / "fleet.toml"}"\n')
    done = subprocess.run(collector_cmd("check-config", "--config", str(config)), cwd=REPO,
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr  # a warning, not a refusal
    year = this_year()
    assert done.stderr == (
        f"pantau-collector: warning: {tmp_path / 'fleet.toml'}: schedule: no holiday in {year}, "
        "the current year in Asia/Jakarta: national holidays would count as working days (and "
        "page). Add this year's dates to holidays or holidays_file; deploy/holidays-id.toml "
        "lists Indonesia's (SKB 3 Menteri)\n")
    assert done.stdout == f"{config}: ok (1 stations in the registry)\n"


def test_a_refused_reload_keeps_the_running_hours(
    collector: tuple[subprocess.Popen[bytes], str, Path], tmp_path: Path
) -> None:
    proc, base, registry = collector
    registry.write_text(fleet(hours='mon = ["22:00-02:00"]'))  # overnight: refused
    proc.send_signal(signal.SIGHUP)
    log = tmp_path / "log"
    wait_for(lambda: "registry not reloaded" in log.read_text(), 10, what="the refusal logged")
    assert 'schedule.hours.mon[0]: overnight range "22:00-02:00" refused' in log.read_text()
    assert metric(base, 'pantau_site_open{site="kota"}') == "1"  # still around the clock
