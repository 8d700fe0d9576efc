"""A webhook receiver for Alertmanager on a free loopback port: what the pager would get."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.mosquitto import wait_for


class Webhook:
    """Collects Alertmanager notifications: one entry per alert per notification."""

    def __init__(self) -> None:
        self.alerts: list[tuple[float, dict[str, Any]]] = []
        self.deliveries: list[tuple[str, str]] = []  # (receiver path, alertname)
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with hook._lock:
                    hook.alerts += [(time.monotonic(), a) for a in body["alerts"]]
                    hook.deliveries += [(self.path, a["labels"]["alertname"])
                                        for a in body["alerts"]]
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"  # any path goes
        self.url = f"{self.base}/alerts"

    def find(self, status: str, alertname: str, **labels: str) -> float | None:
        with self._lock:
            for at, alert in self.alerts:
                got = alert["labels"]
                if (
                    alert["status"] == status
                    and got.get("alertname") == alertname
                    and all(got.get(k) == v for k, v in labels.items())
                ):
                    return at
        return None

    def wait(self, status: str, alertname: str, timeout: float = 60, **labels: str) -> float:
        found: float = wait_for(lambda: self.find(status, alertname, **labels), timeout,
                                interval=0.05, what=f"{status} {alertname} {labels} at the webhook")
        return found

    def names_for(self, station: str) -> set[str]:
        with self._lock:
            return {
                a["labels"]["alertname"]
                for _, a in self.alerts
                if a["labels"].get("station") == station
            }

    def count(self, status: str, alertname: str, **labels: str) -> int:
        """How many notifications carried this alert with this status."""
        return len(self.seen(status, alertname, **labels))

    def seen(self, status: str, alertname: str, **labels: str) -> list[str]:
        """Each notification that carried this alert: when (monotonic) and its startsAt."""
        with self._lock:
            return [f"{at:.1f} startsAt={alert.get('startsAt')}" for at, alert in self.alerts
                    if alert["status"] == status
                    and alert["labels"].get("alertname") == alertname
                    and all(alert["labels"].get(k) == v for k, v in labels.items())]
