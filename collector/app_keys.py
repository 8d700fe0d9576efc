"""Typed aiohttp app keys: the shared objects every route handler reads.

`collector.app` creates these objects once and stores them under these keys;
`collector.api` / `collector.page` / `/metrics` read them. Handlers run on the
event loop thread, the same thread that applies MQTT messages to the Fleet, so
they may read Fleet and IngestStats directly without locks. Store reads do
blocking SQLite I/O: call them via `asyncio.to_thread` (the Store opens a
separate read connection per call, so that is safe).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from collector.stats import StoreStats

if TYPE_CHECKING:
    from collector.asset_feed import AssetFeed
    from collector.config import CollectorConfig
    from collector.figures import Figures
    from collector.fleet import Fleet
    from collector.site_capacity import CapacityTally
    from collector.site_schedule import SiteSchedules
    from collector.stats import IngestStats
    from collector.store import Store


@dataclass(slots=True)
class Health:
    """Readiness as /readyz sees it; written by the ingest session and the history
    flusher on the loop thread."""

    broker_connected: bool = False
    # True once the subscription was acked and the burst of retained
    # status/heartbeat messages it triggered has been applied (see ingest.py).
    retained_loaded: bool = False
    store: StoreStats = field(default_factory=StoreStats)

    @property
    def ready(self) -> bool:
        return self.broker_connected and self.retained_loaded and not self.store.problem

    def reason(self) -> str:
        """Why the collector is not ready, for the 503 body; "" when ready."""
        why = []
        if not self.broker_connected:
            why.append("not connected to the MQTT broker")
        elif not self.retained_loaded:
            why.append("still loading retained station state from the broker")
        if self.store.problem:
            why.append(f"nothing can be committed to the history database ({self.store.problem})"
                       "; events wait unacked at the stations until it can, see "
                       "PantauCollectorStoreFailing in docs/runbooks.md")
        return "; ".join(why)


FLEET_KEY: web.AppKey[Fleet] = web.AppKey("pantau_fleet")
STATS_KEY: web.AppKey[IngestStats] = web.AppKey("pantau_stats")
STORE_KEY: web.AppKey[Store] = web.AppKey("pantau_store")
CONFIG_KEY: web.AppKey[CollectorConfig] = web.AppKey("pantau_config")
HEALTH_KEY: web.AppKey[Health] = web.AppKey("pantau_health")
# The asset register, repair records and readiness history (with their store).
ASSETS_KEY: web.AppKey[AssetFeed] = web.AppKey("pantau_assets")
# The last reliability figures (None until the first computation), for the API and page.
FIGURES_KEY: web.AppKey[Callable[[], Figures | None]] = web.AppKey("pantau_figures")
# Site -> the earliest rollout deadline among its stations still planned (collector.rollout).
ROLLOUT_KEY: web.AppKey[Callable[[], Mapping[str, float]]] = web.AppKey("pantau_rollout")
# The one clock of the app: fleet ticks, registry reloads, relative times on the
# page and report stamps in the API all read it (build_app's `clock`).
CLOCK_KEY: web.AppKey[Callable[[], float]] = web.AppKey("pantau_clock")
# Every registered site's opening hours and maintenance now (refreshed by the
# app's tick), and the capacity tally read from them.
SCHEDULES_KEY: web.AppKey[SiteSchedules] = web.AppKey("pantau_schedules")
CAPACITY_KEY: web.AppKey[CapacityTally] = web.AppKey("pantau_capacity")


def now(app: web.Application) -> float:
    """The app's clock, read once per request."""
    return app[CLOCK_KEY]()
