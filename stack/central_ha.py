"""The HA variant of the central stack (`make demo HA=1`, `python -m stack.demo --ha`).

Two Prometheus servers (external label `replica` a and b) scrape the same
collector with the same rules and both send their alerts to both
Alertmanagers; the two Alertmanagers form one gossip cluster on loopback
ports, so a notification goes out once although it arrives four times, and
either of each pair may die. The `replica` label is dropped from the alerts
(alert_relabel_configs): otherwise the pair's copies would not de-duplicate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stack.central import CentralStack
from stack.processes import Service

PROMETHEUS = ("prometheus", "prometheus-2")
ALERTMANAGERS = ("alertmanager", "alertmanager-2")


@dataclass
class HaCentralStack(CentralStack):
    """Mosquitto and one collector, with a Prometheus pair and an Alertmanager cluster."""

    def port_names(self) -> tuple[str, ...]:
        gossip = tuple(f"{name}-gossip" for name in ALERTMANAGERS)
        return ("mosquitto", "collector", *ALERTMANAGERS, *gossip, *PROMETHEUS)

    def makers(self) -> tuple[Callable[[], Service], ...]:
        return (self._mosquitto, self._collector,
                *(self._clustered(name) for name in ALERTMANAGERS),
                *(self._replica(name, label) for name, label in zip(PROMETHEUS, "ab", strict=True)))

    def alertmanager_targets(self) -> list[str]:
        return [f"127.0.0.1:{self.ports[name]}" for name in ALERTMANAGERS]

    def _clustered(self, name: str) -> Callable[[], Service]:
        own = self.ports[f"{name}-gossip"]
        peers = [self.ports[f"{other}-gossip"] for other in ALERTMANAGERS if other != name]
        cluster = [f"--cluster.listen-address=127.0.0.1:{own}",
                   f"--cluster.advertise-address=127.0.0.1:{own}",
                   *(f"--cluster.peer=127.0.0.1:{port}" for port in peers)]
        return lambda: self._alertmanager(name, cluster)

    def _replica(self, name: str, label: str) -> Callable[[], Service]:
        return lambda: self._prometheus(name, {"replica": label})
