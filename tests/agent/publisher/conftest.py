"""Fixtures: publishers and watchers that are always stopped at teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.config import AgentConfig
from agent.journal import EventJournal
from agent.mqtt.publisher import Publisher
from tests.agent.publisher.helpers import Watcher
from tests.support.mosquitto import MosquittoBroker


@pytest.fixture
def watchers() -> Iterator[Callable[[MosquittoBroker, list[str]], Watcher]]:
    made: list[Watcher] = []

    def make(broker: MosquittoBroker, filters: list[str]) -> Watcher:
        made.append(Watcher(broker, filters))
        return made[-1]

    yield make
    for w in made:
        w.close()


@pytest.fixture
def publishers(tmp_path: Path) -> Iterator[Callable[..., Publisher]]:
    """Start a Publisher (and its queue) for a config; stopped and closed at teardown."""
    made: list[tuple[Publisher, EventJournal]] = []

    def make(config: AgentConfig, boot_id: str = "boot-1", start: bool = True,
             **kwargs: Any) -> Publisher:
        queue = EventJournal(config.queue)
        pub = Publisher(config, boot_id, queue, **kwargs)
        made.append((pub, queue))
        if start:
            pub.start()
        return pub

    yield make
    for pub, queue in made:
        pub.stop(timeout=2.0)
        queue.close()
