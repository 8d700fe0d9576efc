"""One round of the faults a station meets, for benchmarks that measure after them.

`run_faults(clients, broker, site)`: each agent's kit loses a part and gets it
back (SIGUSR1 to tests/support/kit_agent.py run with `--toggle-on-usr1 PART`),
the two events are acked as the collector would, a `report` command is sent,
then the broker restarts and every MQTT client must connect again. Work an
agent defers to its first fault (lazy imports, decoders built on first use, a
reconnect's new client) is then done before anything is measured.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from typing import Protocol

import psutil

from pantau import wire
from tests.agent.publisher.helpers import Watcher
from tests.support.mosquitto import MosquittoBroker, wait_for

FAULT_TIMEOUT_S = 60.0  # a part is missing after 2 polls (4 s); a reconnect backs off <= 60 s


class Client(Protocol):
    """A process under test; agents have a station id and the part SIGUSR1 toggles."""

    name: str
    proc: subprocess.Popen[bytes]
    station: str  # "" for a process that is not an agent
    part: str


class FaultRound:
    """A watcher on the agents' event and heartbeat topics, and the faults, in order."""

    def __init__(self, broker: MosquittoBroker, site: str, agents: Sequence[Client]) -> None:
        self.site, self.agents = site, agents
        self.watch = Watcher(broker, [self.topic(a, k) for a in agents
                                      for k in ("event", "heartbeat")])

    def topic(self, agent: Client, kind: wire.MessageKind) -> str:
        return wire.topic_for(self.site, agent.station, kind)

    def part_events(self, agent: Client) -> dict[int, wire.Event]:
        """The agent's events about its toggled part, by seq (resends counted once)."""
        decoded = (wire.decode("event", m.payload)
                   for m in self.watch.on(self.topic(agent, "event")))
        return {e.seq: e for e in decoded
                if isinstance(e, wire.Event) and e.component == agent.part}

    def toggle_parts(self) -> None:
        """SIGUSR1 to each agent; wait for the event it makes and ack it as the collector would."""
        before = {a.station: len(self.part_events(a)) for a in self.agents}
        for a in self.agents:
            os.kill(a.proc.pid, signal.SIGUSR1)
        for a in self.agents:
            wait_for(lambda a=a: len(self.part_events(a)) > before[a.station], FAULT_TIMEOUT_S,
                     what=f"{a.name}: the event of its {a.part} after SIGUSR1")
            last = max(self.part_events(a).values(), key=lambda e: e.seq)
            ack = wire.Ack(boot_id=last.boot_id, seq=last.seq)
            self.watch.publish(self.topic(a, "ack"), wire.encode(ack))

    def heartbeats(self) -> dict[str, int]:
        return {a.station: len(self.watch.on(self.topic(a, "heartbeat"))) for a in self.agents}

    def wait_heartbeats(self, after: dict[str, int], what: str) -> None:
        for a in self.agents:
            wait_for(lambda a=a: len(self.watch.on(self.topic(a, "heartbeat"))) > after[a.station],
                     FAULT_TIMEOUT_S, what=f"{a.name}: a heartbeat {what}")

    def report_command(self) -> None:
        sent = self.heartbeats()
        for a in self.agents:
            self.watch.publish(self.topic(a, "command"), wire.encode(wire.Command(cmd="report")))
        self.wait_heartbeats(sent, "after a report command")


def connected(client: Client, port: int) -> bool:
    return any(c.status == psutil.CONN_ESTABLISHED and c.raddr and c.raddr.port == port
               for c in psutil.Process(client.proc.pid).net_connections("tcp"))


def run_faults(mqtt_clients: Sequence[Client], broker: MosquittoBroker, site: str) -> str:
    """Part out and back, a command, a broker restart; returns what was done, for the report.

    `mqtt_clients`: every process connected to `broker`; those with a station are agents.
    """
    agents = [c for c in mqtt_clients if c.station]
    faults = FaultRound(broker, site, agents)
    try:
        faults.wait_heartbeats({a.station: 0 for a in agents}, "at start")
        faults.toggle_parts()  # out (or, for a part missing from the start, in) ...
        faults.toggle_parts()  # ... and back
        faults.report_command()
        sent, began = faults.heartbeats(), time.monotonic()
        broker.restart()
        wait_for(lambda: all(connected(c, broker.port) for c in mqtt_clients), FAULT_TIMEOUT_S,
                 what="every MQTT client connected again after the broker restart")
        faults.wait_heartbeats(sent, "after the broker restart")
        back = time.monotonic() - began
    finally:
        faults.watch.close()
    return (f"faults before measuring: each agent's {'/'.join(a.part for a in agents)} out and "
            f"back (2 events, acked), a report command, the broker restarted "
            f"(the {len(mqtt_clients)} MQTT clients connected again {back:.1f} s later)")
