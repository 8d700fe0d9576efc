"""SIGHUP re-reads the fleet registry of a running `pantau-collector run` (a real process,
a real broker): a valid file is applied, an invalid one keeps the registry it had and says
so in the log and in /metrics (pantau_collector_registry_reload_success 0), so a bad edit
is never silently ignored."""

from __future__ import annotations

import re
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.collector_process import CollectorProcess
from tests.support.mosquitto import MosquittoBroker, wait_for

pytestmark = pytest.mark.broker
SUCCESS = "pantau_collector_registry_reload_success"
AT = "pantau_collector_registry_last_reload_timestamp_seconds"


def registry(*stations: tuple[str, str]) -> str:
    text = '[sites.s1]\nname = "Site One"\nregion = "Kota Medan"\n'
    for station, lifecycle in stations:
        text += (f'\n[stations.{station}]\nsite = "s1"\nprofile = "ektp-enrollment"\n'
                 f'lifecycle = "{lifecycle}"\n')
    return text


def gauge(collector: CollectorProcess, name: str) -> float | None:
    found = re.search(rf"^{name} (\S+)$", collector.metrics(), re.MULTILINE)
    return None if found is None else float(found.group(1))


@pytest.fixture
def broker(broker_factory: Callable[..., MosquittoBroker]) -> MosquittoBroker:
    """A broker of its own: no retained station of another test shows up."""
    return broker_factory()


@pytest.fixture
def collector(broker: MosquittoBroker, tmp_path: Path) -> Iterator[CollectorProcess]:
    col = CollectorProcess(broker.url, tmp_path, registry(("a-01", "active")),
                           client_id=f"reload-{uuid.uuid4().hex[:8]}")
    yield col
    col.kill()


def hangup(collector: CollectorProcess, text: str) -> None:
    assert collector.registry is not None and collector.proc is not None
    collector.registry.write_text(text)
    collector.proc.send_signal(signal.SIGHUP)


def test_sighup_applies_a_valid_registry_and_keeps_the_old_one_on_a_bad_edit(
    collector: CollectorProcess
) -> None:
    before = time.time()
    collector.start()
    assert gauge(collector, SUCCESS) == 1.0  # the load at start counts
    started_at = gauge(collector, AT)
    assert started_at is not None and before <= started_at <= time.time()
    assert collector.states() == {"a-01": "never_seen"}

    hangup(collector, registry(("a-01", "active"), ("a-02", "planned")))
    wait_for(lambda: collector.states().get("a-02") == "planned", 10, what="a-02 added")
    reloaded_at = gauge(collector, AT)
    assert gauge(collector, SUCCESS) == 1.0 and reloaded_at is not None
    assert reloaded_at > started_at

    hangup(collector, registry(("a-01", "active"), ("a-02", "sometimes")))
    wait_for(lambda: gauge(collector, SUCCESS) == 0.0, 10, what="the bad edit reported")
    assert collector.states() == {"a-01": "never_seen", "a-02": "planned"}, "old registry kept"
    assert gauge(collector, AT) == reloaded_at
    [line] = [ln for ln in collector.log().splitlines() if "registry not reloaded" in ln]
    assert " ERROR " in line and str(collector.registry) in line
    assert "stations.a-02.lifecycle" in line and "keeping the current one" in line

    hangup(collector, registry(("a-01", "retired")))
    wait_for(lambda: gauge(collector, SUCCESS) == 1.0, 10, what="the fixed file applied")
    assert collector.states() == {}


def test_without_a_registry_there_is_nothing_to_reload_and_no_reload_metrics(
    broker: MosquittoBroker, tmp_path: Path
) -> None:
    col = CollectorProcess(broker.url, tmp_path, None,
                           client_id=f"reload-{uuid.uuid4().hex[:8]}")
    try:
        col.start()
        metrics = col.metrics()
        assert "pantau_build_info" in metrics
        assert SUCCESS not in metrics and AT not in metrics
    finally:
        col.kill()
