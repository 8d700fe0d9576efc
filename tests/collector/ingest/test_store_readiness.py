"""The collector app over a real Mosquitto while its history cannot be written: a real full
tmpfs, a data dir that cannot be opened. /readyz says why (503), /metrics counts it, no
event is acked before its commit, the backlog stays bounded, and the fleet view goes on."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.collector.ingest.conftest import (
    AckListener,
    RunningCollector,
    Station,
    collector_config,
    run_collector,
    until,
)
from tests.support.mosquitto import MosquittoBroker

pytestmark = pytest.mark.broker
BOUND = 1000  # the smallest [state] max_pending_rows the config accepts


def fill(disk: Path) -> Path:
    st = os.statvfs(disk)
    filler = disk / "filler"
    filler.write_bytes(b"\0" * (st.f_bavail * st.f_frsize))
    return filler


def sample(metrics: bytes, name: str) -> float:
    found = re.search(rb"^" + re.escape(name.encode()) + rb" (\S+)$", metrics, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


async def readyz(col: RunningCollector) -> tuple[int, dict[str, object]]:
    status, body = await col.get("/readyz")
    return status, json.loads(body)


async def test_a_full_disk_is_not_ready_holds_acks_and_bounds_the_backlog(
    mosquitto: MosquittoBroker, small_disk: Path, site: str, stations: Callable[..., Station]
) -> None:
    config = collector_config(mosquitto, small_disk / "data", site, max_pending_rows=BOUND)
    async with run_collector(config) as col:
        st = stations("mb-01").connect()
        acks = AckListener(mosquitto, st.topic("ack"))
        try:
            st.send_event(st.event(1))
            await until(lambda: [a.seq for a in acks.acks] == [1], what="ack of 1")
            filler = fill(small_disk)
            # From a thread: the collector shares this loop and must read meanwhile, or the
            # broker's queue for it (1000 by default) would drop the rest.
            await asyncio.to_thread(lambda: [st.send_event(st.event(seq))
                                             for seq in range(2, BOUND + 202)])
            await until(lambda: col.stats.rejected["history_full"] == 200, what="200 deferred")
            # The bound counts the rows of a commit in flight too: wait for it to fail.
            await until(lambda: col.stats.store.problem, what="the commit refused")
            status, body = await readyz(col)
            assert status == 503 and "nothing can be committed" in str(body["reason"]), body
            _, metrics = await col.get("/metrics")
            assert sample(metrics, 'pantau_collector_store_errors_total{op="write"}') >= 1
            assert sample(metrics, "pantau_collector_store_pending_rows") == BOUND
            assert sample(metrics, 'pantau_collector_rejected_messages_total{reason="history_full"}'
                          ) == 200
            assert [a.seq for a in acks.acks] == [1], "an ack ran ahead of the disk"
            filler.unlink()
            await until(lambda: acks.acks and acks.acks[-1].seq == BOUND + 1, timeout=20,
                        what="the backlog committed and acked")
            assert (await readyz(col))[0] == 200
        finally:
            acks.close()
        seqs = {e.seq for e in col.store.events(station="mb-01", limit=5000)}
        # The deferred 200 were never marked seen: an agent sends them again after its ack
        # timeout (this plain publisher does not), and they are stored then.
        assert seqs == set(range(1, BOUND + 2))


async def test_a_data_dir_that_cannot_be_opened_keeps_the_fleet_view_and_says_why(
    mosquitto: MosquittoBroker, tmp_path: Path, site: str, stations: Callable[..., Station]
) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data dir should be")
    config = collector_config(mosquitto, blocker, site)
    async with run_collector(config, ready=False) as col:
        st = stations("mb-01").connect()
        st.heartbeat()
        await until(lambda: col.state("mb-01") == "online", what="the fleet view goes on")
        await until(lambda: col.health.retained_loaded, what="retained state loaded")
        status, body = await readyz(col)
        assert status == 503 and "data_dir" in str(body["reason"]), body
        _, metrics = await col.get("/metrics")
        assert sample(metrics, 'pantau_collector_store_errors_total{op="open"}') >= 1
        st.send_event(st.event(1))
        blocker.unlink()  # the operator fixes it; the collector picks it up by itself
        await until(lambda: col.health.ready, timeout=20, what="ready once the store opens")
        await until(lambda: [e.seq for e in col.store.events()] == [1], what="event stored")
