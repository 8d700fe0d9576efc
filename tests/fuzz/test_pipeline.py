"""Whole-pipeline fuzz, bounded (a few seconds): seeded valid-edge and mutated station
messages through a real collector app, every view over real HTTP (tests/fuzz/pipeline.py).
The long run is `make fuzz`; figures in docs/reliability.md.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from msgspec.structs import replace

from collector.app_keys import CLOCK_KEY, FLEET_KEY
from pantau import wire
from tests.fuzz import pipeline, samples
from tests.support.mosquitto import MosquittoBroker

SEED = 20261207
SECONDS = 4.0


@pytest.fixture
def high_logs() -> Iterator[pipeline.HighLogs]:
    handler = pipeline.HighLogs()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


@pytest.fixture
async def client(tmp_path: Path, mosquitto: MosquittoBroker) -> AsyncIterator[pipeline.Client]:
    async with pipeline.collector(tmp_path, mosquitto.url) as c:
        yield c


async def test_seeded_messages_leave_every_view_answering(
    client: pipeline.Client, high_logs: pipeline.HighLogs
) -> None:
    result = await pipeline.run(client, SEED, count=10**9, seconds=SECONDS, views_every=200)
    print(pipeline.summary(result, high_logs.records))
    assert result.failures == []
    assert [r.getMessage()[:300] for r in high_logs.records] == []
    # The run reached deep: messages applied and refused for several reasons, views fetched.
    assert result.outcomes["applied"] > 100
    assert {"schema", "decode", "oversize"} <= set(result.outcomes)
    assert result.fetches > 50
    assert result.promtool_runs >= 1 or not pipeline.PROMTOOL.exists()


# Times no calendar can show or the wire refuses, put straight into the fleet (as a
# collector bug or an older, laxer decoder would): the views must still answer.
OUT_OF_RANGE = (1.7e12, -1e12, 1e300, 0.0)


@pytest.mark.parametrize("bad", OUT_OF_RANGE)
async def test_views_answer_on_times_the_wire_refuses(
    client: pipeline.Client, high_logs: pipeline.HighLogs, bad: float
) -> None:
    hb = samples.VALID["heartbeat"]
    assert isinstance(hb, wire.Heartbeat) and hb.host is not None
    parts = [replace(c, since=bad) for c in hb.components]
    for site, station in (("medan-baru", "medan-baru-01"), ("lain", "stray-01")):
        odd = replace(hb, site=site, station=station, ts=bad, components=parts,
                      host=replace(hb.host, boot_time=bad))
        client.app[FLEET_KEY].apply_heartbeat(odd, client.app[CLOCK_KEY]())
    result = pipeline.PipelineResult(seed=0)
    await pipeline.check_views(client, result, promtool=True)
    assert result.failures == []
    assert [r.getMessage()[:300] for r in high_logs.records] == []
