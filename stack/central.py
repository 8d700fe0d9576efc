"""The central stack on private loopback ports, configured from the files in deploy/.

Prometheus evaluates the real rule files from deploy/prometheus and
Alertmanager runs the real routes and inhibitions from deploy/alertmanager.
Only what cannot apply on one laptop is rewritten: ports, paths, receivers
(all pointed at one webhook, or none), and — with `time_scale` < 1 — every
`for:` and Alertmanager grouping delay, scaled so a test sees in seconds what
production sees in minutes (the order of the durations, which inhibition
relies on, is kept). With `start_at` or `day_length_s` the collector runs with a
compressed office day (stack/compressed_day.py) so opening hours pass in minutes.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import yaml

from stack.compressed_day import CompressedDay, compressed_day
from stack.processes import Service, StackError, free_port, http_ok, tcp_open

log = logging.getLogger("pantau.stack")
REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def scale_duration(text: str, factor: float, floor_ms: int = 200) -> str:
    match = _DURATION.match(text.strip())
    if not match:
        raise StackError(f"cannot scale duration {text!r}: expected forms like 90s, 5m, 1h")
    ms = int(int(match[1]) * _UNIT_S[match[2]] * 1000 * factor)
    return f"{max(ms, floor_ms)}ms"


def binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or next(
            (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if Path(p).exists()), None
        )
        if found:
            return found
    raise StackError(
        f"{' or '.join(names)} is not installed: run `make deps` (Debian packages "
        "mosquitto, prometheus, prometheus-alertmanager)"
    )


@dataclass
class CentralStack:
    workdir: Path
    registry: Path
    time_scale: float = 1.0
    webhook_url: str | None = None
    scrape_interval_s: float = 5.0
    start_at: str | None = None  # office local time HH:MM or YYYY-MM-DDTHH:MM
    day_length_s: float | None = None  # real seconds per office day
    zone: str = "Asia/Jakarta"  # of start_at
    office_day: CompressedDay | None = None  # set by start() when a day is compressed
    ports: dict[str, int] = field(default_factory=dict)
    services: list[Service] = field(default_factory=list)

    def url(self, part: str) -> str:
        scheme = "mqtt" if part == "mosquitto" else "http"
        return f"{scheme}://127.0.0.1:{self.ports[part]}"

    def start(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for part in self.port_names():
            self.ports[part] = free_port()
        try:
            for make in self.makers():
                self.services.append(make().start())
        except BaseException:
            self.stop()
            raise
        return self

    def port_names(self) -> tuple[str, ...]:
        return ("mosquitto", "collector", "alertmanager", "prometheus")

    def makers(self) -> tuple[Callable[[], Service], ...]:
        """What start() starts, in order (stop() goes the other way)."""
        return (self._mosquitto, self._collector, self._alertmanager, self._prometheus)

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.services.clear()

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def _log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def _mosquitto(self) -> Service:
        # PANTAU_STACK_BROKER=embedded forces the fallback (to try it where Mosquitto exists).
        try:
            mosquitto = binary("mosquitto")
        except StackError:
            return self._embedded_broker()
        if os.environ.get("PANTAU_STACK_BROKER") == "embedded":
            return self._embedded_broker()
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.ports['mosquitto']} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {self.workdir}/\n"
            "max_queued_messages 100000\n"
        )
        return Service(
            "mosquitto",
            [mosquitto, "-c", str(conf)],
            self._log("mosquitto"),
            tcp_open(self.ports["mosquitto"]),
        )

    def _embedded_broker(self) -> Service:
        """Where Mosquitto cannot be installed: amqtt (pure Python) in a venv of its own."""
        log.warning(
            "Mosquitto is not installed: falling back to the embedded amqtt broker "
            "(fine for a demo; production wants Mosquitto, see deploy/mosquitto)"
        )
        venv = Path.home() / ".cache" / "pantau" / "amqtt-venv"
        if not (venv / "bin" / "amqtt").exists():
            with open(self._log("amqtt-install"), "wb") as out:
                subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
                pip = [str(venv / "bin" / "pip"), "install", "-q", "amqtt==0.12.1"]
                subprocess.run(pip, check=True, stdout=out, stderr=subprocess.STDOUT)
        conf = self.workdir / "amqtt.yaml"
        conf.write_text(
            yaml.safe_dump(
                {
                    "listeners": {
                        "default": {"type": "tcp", "bind": f"127.0.0.1:{self.ports['mosquitto']}"}
                    },
                    "plugins": {
                        "amqtt.plugins.authentication.AnonymousAuthPlugin": {
                            "allow_anonymous": True
                        }
                    },
                }
            )
        )
        return Service(
            "mosquitto",
            [str(venv / "bin" / "amqtt"), "-c", str(conf)],
            self._log("mosquitto"),
            tcp_open(self.ports["mosquitto"]),
        )

    def _collector(self) -> Service:
        day = self._compressed_day()
        if day:  # the same collector, started with an office clock of its own
            command = [sys.executable, "-m", "stack.collector_run", *day]
        else:
            command = [str(Path(sys.executable).parent / "pantau-collector"), "run"]
        argv = [
            *command,
            "--broker",
            self.url("mosquitto"),
            "--listen",
            f"127.0.0.1:{self.ports['collector']}",
            "--registry",
            str(self.registry),
            "--data-dir",
            str(self.workdir / "collector"),
        ]
        return Service(
            "collector", argv, self._log("collector"), http_ok(self.url("collector") + "/healthz")
        )

    def _compressed_day(self) -> list[str]:
        """The office-clock flags of stack.collector_run; none for a real day."""
        if self.start_at is None and self.day_length_s is None:
            return []
        try:
            day = compressed_day(self.start_at, self.day_length_s, self.zone, time.time())
        except ValueError as exc:
            raise StackError(f"cannot compress the office day: {exc}") from None
        self.office_day = day
        flags = ["--zone", self.zone, "--real-start", repr(day.real_start)]
        if self.start_at is not None:
            flags += ["--start-at", self.start_at]
        if self.day_length_s is not None:
            flags += ["--day-length", repr(self.day_length_s)]
        return flags

    def office_time(self, real: float | None = None) -> float:
        """The offices' clock at `real` (default now): what the collector's schedule reads."""
        real = time.time() if real is None else real
        return real if self.office_day is None else self.office_day.office(real)

    def _alertmanager(self, name: str = "alertmanager",
                      cluster: Sequence[str] = ("--cluster.listen-address=",)) -> Service:
        conf = self.workdir / "alertmanager.yml"
        conf.write_text(yaml.safe_dump(self.alertmanager_config(), sort_keys=False))
        argv = [
            binary("prometheus-alertmanager", "alertmanager"),
            f"--config.file={conf}",
            f"--storage.path={self.workdir / f'{name}-data'}",
            f"--web.listen-address=127.0.0.1:{self.ports[name]}",
            *cluster,
        ]
        return Service(name, argv, self._log(name), http_ok(self.url(name) + "/-/ready"))

    def _prometheus(self, name: str = "prometheus",
                    labels: dict[str, str] | None = None) -> Service:
        conf = self.workdir / f"{name}.yml"
        conf.write_text(yaml.safe_dump(self.prometheus_config(labels), sort_keys=False))
        argv = [
            binary("prometheus"),
            f"--config.file={conf}",
            f"--storage.tsdb.path={self.workdir / f'{name}-data'}",
            f"--web.listen-address=127.0.0.1:{self.ports[name]}",
        ]
        return Service(name, argv, self._log(name), http_ok(self.url(name) + "/-/ready"))

    def alertmanager_targets(self) -> list[str]:
        return [f"127.0.0.1:{self.ports['alertmanager']}"]

    def prometheus_config(self, labels: dict[str, str] | None = None) -> dict[str, Any]:
        interval = f"{int(self.scrape_interval_s * 1000)}ms"
        return {
            "global": {"scrape_interval": interval, "evaluation_interval": interval,
                       **({"external_labels": labels} if labels else {})},
            "rule_files": [
                str(self._scaled_rules(p))
                for p in sorted((DEPLOY / "prometheus").glob("*.yml"))
                if p.name != "prometheus.yml"
            ],
            "alerting": {
                "alertmanagers": [{"static_configs": [{"targets": self.alertmanager_targets()}]}],
                # A pair's replica label must not split Alertmanager's de-duplication.
                **({"alert_relabel_configs": [{"action": "labeldrop", "regex": "replica"}]}
                   if labels else {}),
            },
            "scrape_configs": [
                {
                    "job_name": "pantau-collector",
                    "static_configs": [{"targets": [f"127.0.0.1:{self.ports['collector']}"]}],
                }
            ],
        }

    def _scaled_rules(self, source: Path) -> Path:
        doc = yaml.safe_load(source.read_text())
        for group in doc.get("groups", []):
            for rule in group.get("rules", []):
                if "for" in rule and self.time_scale != 1.0:
                    rule["for"] = scale_duration(rule["for"], self.time_scale)
        target = self.workdir / f"rules-{source.name}"
        target.write_text(yaml.safe_dump(doc, sort_keys=False))
        return target

    def alertmanager_config(self) -> dict[str, Any]:
        doc: dict[str, Any] = yaml.safe_load(
            (DEPLOY / "alertmanager" / "alertmanager.yml").read_text()
        )
        doc["templates"] = [
            str(DEPLOY / "alertmanager" / t) if not Path(t).is_absolute() else t
            for t in doc.get("templates", [])
        ]
        doc.pop("global", None)  # SMTP/Telegram secrets and hosts: none on a laptop
        for receiver in doc.get("receivers", []):
            name = receiver["name"]
            receiver.clear()
            receiver["name"] = name
            if self.webhook_url:
                receiver["webhook_configs"] = [{"url": self.webhook_url, "send_resolved": True}]
        if self.time_scale != 1.0:
            self._scale_route(doc["route"])
        return doc

    def _scale_route(self, route: dict[str, Any]) -> None:
        for key in ("group_wait", "group_interval", "repeat_interval"):
            if key in route:
                route[key] = scale_duration(route[key], self.time_scale)
        for child in route.get("routes", []):
            self._scale_route(child)
