"""The parts and reliability families of /metrics, from snapshots, as promtool reads them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from collector.figures import Figures, SiteFigures
from collector.reliability import RepairTimes
from collector.reliability_metrics import render

PROMTOOL = Path("/usr/bin/promtool")
NO_TIMES = RepairTimes(0, None, None)
FIGURES = Figures(at=0.0, days=30, sites={
    "medan-baru": SiteFigures("medan-baru", 0.9, {"1d": 1.0, "7d": 0.875, "30d": 0.9}, NO_TIMES,
                              {}),
    "closed-all-week": SiteFigures("closed-all-week", None, {"30d": 0.5}, NO_TIMES, {}),
})
EXPECTED = """\
# HELP pantau_site_availability_ratio Share of the site's opening hours its stations were \
ready (window 1d: today so far, 7d/30d: the last whole local days).
# TYPE pantau_site_availability_ratio gauge
pantau_site_availability_ratio{site="closed-all-week",window="30d"} 0.5
pantau_site_availability_ratio{site="medan-baru",window="1d"} 1.0
pantau_site_availability_ratio{site="medan-baru",window="7d"} 0.875
pantau_site_availability_ratio{site="medan-baru",window="30d"} 0.9
# HELP pantau_site_repair_open Repair records of the site that are open.
# TYPE pantau_site_repair_open gauge
pantau_site_repair_open{site="closed-all-week"} 0
pantau_site_repair_open{site="medan-baru"} 2
pantau_site_repair_open{site="unregistered"} 1
# HELP pantau_site_rollout_due_timestamp_seconds The earliest install_by deadline among the \
site's stations still planned.
# TYPE pantau_site_rollout_due_timestamp_seconds gauge
pantau_site_rollout_due_timestamp_seconds{site="medan-baru"} 1767200399.0
"""


def test_families_render_from_snapshots_with_absent_windows_left_out() -> None:
    body = render(FIGURES, {"medan-baru": 2, "unregistered": 1},
                  ["medan-baru", "closed-all-week"], {"medan-baru": 1767200399.0})
    assert body.decode() == EXPECTED


def test_before_the_first_figures_only_the_headers_and_zero_repairs() -> None:
    body = render(None, {}, ["medan-baru"], {}).decode()
    assert "pantau_site_availability_ratio{" not in body
    assert 'pantau_site_repair_open{site="medan-baru"} 0' in body
    assert "pantau_site_rollout_due_timestamp_seconds{" not in body


def test_promtool_accepts_them() -> None:
    if not PROMTOOL.exists():
        pytest.skip("promtool not installed (Debian package prometheus)")
    body = render(FIGURES, {"medan-baru": 2}, ["medan-baru"], {"medan-baru": 1.0})
    done = subprocess.run([str(PROMTOOL), "check", "metrics"], input=body, capture_output=True,
                          timeout=30, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
