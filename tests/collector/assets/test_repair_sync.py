"""Repair writes from other replicas: what is refused (counted, logged), what is queued."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from collector.api_repairs import valid_write
from collector.asset_feed import AssetFeed
from collector.repair_sync import RepairSync, RepairWrite
from collector.store_assets import AssetStore

OK = RepairWrite(1, "pantau-collector-b", "0123456789abcdef", "budi", 1.0, ticket="INC-1")


def encoded(**changes: object) -> bytes:
    return msgspec.json.encode(msgspec.structs.replace(OK, **changes))


@pytest.mark.parametrize(("payload", "invalid", "queued"), [
    (encoded(), 0, 1),
    (encoded(origin="pantau-collector-a"), 0, 0),  # our own, back from the broker
    (b"{", 1, 0),
    (b'{"v":1}', 1, 0),
    (encoded()[:-1] + b',"colour":1}', 1, 0),
    (encoded(v=2), 1, 0),
    (encoded(id="../etc"), 1, 0),
    (encoded(ticket="x" * 65), 1, 0),
    (encoded(note="x" * 501), 1, 0),
    (encoded(ticket=None), 1, 0),  # sets nothing
])
def test_received_writes(tmp_path: Path, payload: bytes, invalid: int, queued: int) -> None:
    sync = RepairSync("pantau-collector-a", AssetFeed(AssetStore(tmp_path), 60), valid_write)
    sync.received(payload)
    assert (sync.results["invalid"], sync.held) == (invalid, queued)
