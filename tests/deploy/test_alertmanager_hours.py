"""Tickets only in business hours, pages at any hour: our routing tree in the real Alertmanager.

The shipped `business-hours` interval is Monday-Friday 08:00-16:00 in
Asia/Jakarta (checked as written). To see the routing act on it without
waiting for a weekday morning, two real Alertmanagers run a copy of
deploy/alertmanager/alertmanager.yml in which only that interval's days and
times are moved: around the present Jakarta time (inside), or away from it
(outside); the route tree, the `location` and everything else stay as shipped.
A page and a ticket are posted to each; a local webhook sees what is delivered.
The "inside" window is given in Jakarta wall-clock time, so it only matches now
if Alertmanager honours `location` (it is 7 hours off in UTC).
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.deploy.binaries import ALERTMANAGER, AMTOOL, REPO, Server, http_json, run_tool
from tests.support.alert_webhook import Webhook
from tests.support.mosquitto import wait_for

AM_DIR = REPO / "deploy" / "alertmanager"
SHIPPED: dict[str, Any] = yaml.safe_load((AM_DIR / "alertmanager.yml").read_text())
JAKARTA = ZoneInfo("Asia/Jakarta")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def test_shipped_business_hours_are_weekdays_eight_to_four_in_jakarta() -> None:
    (interval,) = [i for i in SHIPPED["time_intervals"] if i["name"] == "business-hours"]
    assert interval["time_intervals"] == [{
        "weekdays": ["monday:friday"], "times": [{"start_time": "08:00", "end_time": "16:00"}],
        "location": "Asia/Jakarta",
    }]
    routes = {tuple(r.get("matchers", [])): r for r in SHIPPED["route"]["routes"]}
    assert routes[('severity="ticket"',)]["active_time_intervals"] == ["business-hours"]
    assert routes[()]["active_time_intervals"] == ["business-hours"]  # unknown severities
    assert "active_time_intervals" not in routes[('severity="page"',)]
    assert "active_time_intervals" not in routes[('alertname="PantauWatchdog"',)]


def _window(inside: bool) -> dict[str, Any]:
    """Today's weekday in Jakarta, two hours around now (inside) or away from now."""
    now = datetime.now(JAKARTA)
    minute = now.hour * 60 + now.minute
    if inside:
        start, end = max(0, minute - 60), min(24 * 60, minute + 60)
    else:
        start, end = (minute + 120, minute + 180) if minute < 20 * 60 else (0, 60)
    clock = [f"{m // 60:02d}:{m % 60:02d}" for m in (start, end)]
    return {"weekdays": [DAYS[now.weekday()]],
            "times": [{"start_time": clock[0], "end_time": clock[1]}],
            "location": "Asia/Jakarta"}


def _config(webhook: str, inside: bool) -> dict[str, Any]:
    doc = copy.deepcopy(SHIPPED)
    doc.pop("global")  # SMTP host and secrets: nothing is mailed from a test
    for receiver in doc["receivers"]:
        hooks = receiver.get("webhook_configs", [])
        for hook in hooks:
            hook["url"] = hook["url"].replace("http://127.0.0.1:9097", webhook)
            hook.pop("http_config", None)
        receiver.clear()
        receiver.update({"name": receiver.get("name") or "", "webhook_configs": hooks})
    for receiver, original in zip(doc["receivers"], SHIPPED["receivers"], strict=True):
        receiver["name"] = original["name"]
    for route in (doc["route"], *doc["route"]["routes"]):
        route.update({k: "1s" for k in ("group_wait", "group_interval") if k in route})
    (interval,) = [i for i in doc["time_intervals"] if i["name"] == "business-hours"]
    interval["time_intervals"] = [_window(inside)]
    return doc


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()


def _alertmanager(tmp: Path, webhook: Webhook, inside: bool) -> Server:
    workdir = tmp / ("inside" if inside else "outside")
    shutil.copytree(AM_DIR / "templates", workdir / "templates")
    config = workdir / "alertmanager.yml"
    config.write_text(yaml.safe_dump(_config(webhook.base, inside), sort_keys=False))
    checked = run_tool(AMTOOL, "check-config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr

    def argv(port: int, wd: Path) -> list[str]:
        return [ALERTMANAGER, f"--config.file={wd / 'alertmanager.yml'}",
                f"--storage.path={wd / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=", "--log.level=debug"]

    return Server(argv, workdir, "/-/ready").start()


def _post(am: Server, *names: tuple[str, str]) -> None:
    now = datetime.now(JAKARTA)
    http_json(am.url + "/api/v2/alerts", [
        {"labels": {"alertname": name, "severity": severity, "site": "s1", "station": "s1-01"},
         "startsAt": now.isoformat(), "endsAt": (now + timedelta(minutes=10)).isoformat()}
        for name, severity in names])


@pytest.mark.parametrize("inside", [True, False], ids=["in-business-hours", "outside"])
def test_tickets_wait_for_business_hours_and_pages_do_not(
    tmp_path: Path, webhook: Webhook, inside: bool
) -> None:
    page, ticket = f"Page{inside}", f"Ticket{inside}"
    am = _alertmanager(tmp_path, webhook, inside)
    try:
        _post(am, (page, "page"), (ticket, "ticket"))
        wait_for(lambda: ("/pantau/page", page) in webhook.deliveries, 30, what=f"{page} delivered")
        if inside:
            wait_for(lambda: ("/pantau/ticket", ticket) in webhook.deliveries, 30,
                     what=f"{ticket} delivered in business hours")
            assert _held_back(am) == 0
        else:
            # Alertmanager says (debug log) each time it flushes a group outside its
            # active time: after two such flushes the ticket was held back, not late.
            wait_for(lambda: _held_back(am) >= 2, 30, what="the ticket group held back twice")
            assert ("/pantau/ticket", ticket) not in webhook.deliveries
    finally:
        am.stop()


def _held_back(am: Server) -> int:
    log = (am.workdir / "server.log").read_text(errors="replace")
    return log.count("route is not within active time")
