"""A short soak in CI (`make soak` is the long one, figures in docs/reliability.md).

200 lite stations and a real agent process for 75 s against the real collector,
with link drops and broker restarts: every lite station is online again, every
event it made is acked (its `oldest_pending` and resends included), none
dropped, and neither process grows past its RSS ceiling after the warm-up.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.load.soak import parse_args, soak

pytestmark = pytest.mark.broker

SHORT = ["--stations", "200", "--minutes", "1.25", "--warmup", "30", "--sample-every", "5",
         "--ramp", "5",
         "--event-every", "10", "--drop-every", "45", "--broker-restart-every", "35",
         "--collector-growth-mib", "8", "--agent-growth-mib", "4"]


@pytest.mark.timeout(300)
async def test_short_soak_acks_everything_within_its_rss_ceilings(tmp_path: Path) -> None:
    result = await soak(parse_args(SHORT), tmp_path)
    print("\n".join(result.lines))
    assert result.events > 500 and result.acks > 0, result.lines
    assert result.failures == [], result.lines
