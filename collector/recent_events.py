"""A station's last events, for its page and its API detail, read from the history store.

The history database holds every stored event already. A copy of each
station's last few in memory cost ~4 KB per station (~40 MB at 10k stations,
docs/performance.md), and the event waves that filled it left the allocator's
pools fragmented; one indexed read per page view costs well under a
millisecond. An event shows here once its batch is committed (every 0.5 s at
most, collector.history). A store that cannot be read leaves the rest of the
station's view standing and says why.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Final

from aiohttp import web

from collector.app_keys import STORE_KEY
from collector.store import StoredEvent, StoreError

RECENT_EVENTS: Final = 20


async def read_recent_events(app: web.Application, station: str) -> tuple[list[StoredEvent], str]:
    """The station's last RECENT_EVENTS events, oldest first, and "" or why they are missing."""
    store = app.get(STORE_KEY)
    if store is None:  # an app built without history (tests of the live view alone)
        return [], ""
    try:
        return await asyncio.to_thread(store.recent_events, station, RECENT_EVENTS), ""
    except (StoreError, sqlite3.Error) as exc:
        return [], f"event history cannot be read: {exc}"
