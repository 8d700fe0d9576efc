"""1,000 bad messages through a real broker into the collector app: every one counted, a
bounded number of log lines, and no traceback per message — not even when applying a
message raises (a collector bug, here one station's status)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Callable

import pytest

from collector.config import CollectorConfig
from pantau import wire
from tests.collector.ingest.conftest import Station, run_collector, until

pytestmark = pytest.mark.broker
ROUNDS = 125  # x 8 kinds of bad message = 1,000


def bad_messages(st: Station, other: Station, poison: Station) -> list[tuple[str, bytes, str]]:
    """(topic, payload, the reason it is counted under), one of each kind."""
    hb = json.loads(wire.encode(st.make_heartbeat()))
    ev = wire.encode(st.event(1))
    return [
        (st.topic("heartbeat"), b'{"v":1,', "decode"),
        (st.topic("heartbeat"), json.dumps({**hb, "interval_s": -1}).encode(), "schema"),
        (st.topic("status"), b'{"v":2,"state":"online","boot_id":"b","session":1}', "version"),
        (f"pantau/v1/{st.site}/NOT-AN-ID/heartbeat", json.dumps(hb).encode(), "topic"),
        (other.topic("heartbeat"), json.dumps(hb).encode(), "mismatch"),
        (st.topic("event"), b" " * (wire.MAX_PAYLOAD_BYTES + 1), "oversize"),
        (st.topic("event"), ev, "duplicate"),  # after the first copy
        (poison.topic("status"), wire.encode(wire.Status(state="online", boot_id="b",
                                                         session=1)), "error"),
    ]


async def test_a_thousand_bad_messages_log_a_bounded_number_of_lines(
    collector_cfg: CollectorConfig, stations: Callable[..., Station],
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    st, other, poison = stations("mb-01").connect(), stations("mb-02"), stations("mb-99")
    messages = bad_messages(st, other, poison)
    async with run_collector(collector_cfg) as col:
        real_apply = col.fleet.apply_status

        def buggy_apply(site: str, station: str, status: wire.Status, now: float) -> object:
            if station == poison.station:
                raise ZeroDivisionError("a bug in applying this station's status")
            return real_apply(site, station, status, now)

        monkeypatch.setattr(col.fleet, "apply_status", buggy_apply)
        st.send_event(st.event(1))  # the original the duplicates repeat
        await until(lambda: col.stats.messages["event"] == 1, what="the first event")
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            await asyncio.to_thread(lambda: [st.publish(topic, payload)
                                             for _ in range(ROUNDS)
                                             for topic, payload, _ in messages])
            expected = Counter({reason: ROUNDS for _, _, reason in messages})
            await until(lambda: +col.stats.rejected == expected, timeout=30,
                        what=f"every bad message counted: {expected}")
        lines = [r for r in caplog.records if r.name.startswith(("collector", "pantau"))]
    print(f"\n  {len(lines)} log lines for 1,000 bad messages")
    traced = [r for r in lines if r.exc_info]
    assert len(traced) == 1, "a traceback per failing message"
    assert "a collector bug" in traced[0].getMessage()
    # One line per kind of refusal (a duplicate is normal: none) and one traceback.
    assert len(lines) <= len(messages), [r.getMessage()[:120] for r in lines]
