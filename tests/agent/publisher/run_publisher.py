"""Runs one Publisher until killed, so a test can SIGKILL it and watch for the Will.

usage: python -m tests.agent.publisher.run_publisher PORT STATION QUEUE_PATH BOOT_ID
Prints "connected" once the first birth went out.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from agent.config import AgentConfig, QueueConfig
from agent.journal import EventJournal
from agent.mqtt.publisher import Publisher
from pantau.broker_config import BrokerConfig
from tests.support.mosquitto import wait_for


def main(port: str, station: str, queue_path: str, boot_id: str) -> None:
    broker = BrokerConfig(host="127.0.0.1", port=int(port), keepalive_s=2,
                          reconnect_min_s=0.05, reconnect_max_s=0.5)
    config = AgentConfig(station=station, site="site-a", broker=broker,
                         queue=QueueConfig(path=Path(queue_path)))
    publisher = Publisher(config, boot_id, EventJournal(config.queue))
    publisher.start()
    wait_for(lambda: publisher.connected, what="publisher connected")
    print("connected", flush=True)
    threading.Event().wait()  # until SIGKILL


if __name__ == "__main__":
    main(*sys.argv[1:5])
