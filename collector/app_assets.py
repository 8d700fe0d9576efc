"""The parts side of the collector app: asset register, repairs, readiness, reliability figures.

`install_assets` puts the asset store and feed under `ASSETS_KEY` and adds the
routes; `collector.app` runs `assets_ctx` (open the database, restore, commit
loop) before ingest starts, calls `tick_assets` from its one-second tick and
`figures_step` every FIGURES_POLL_S (it computes when due), and appends
`metrics_text` to /metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import TYPE_CHECKING, Final

from aiohttp import web

from collector import reliability_metrics
from collector.api_assets import add_asset_routes
from collector.api_reliability import add_reliability_routes
from collector.api_repairs import add_repair_routes
from collector.app_keys import (
    ASSETS_KEY,
    CLOCK_KEY,
    FIGURES_KEY,
    FLEET_KEY,
    HEALTH_KEY,
    ROLLOUT_KEY,
    SCHEDULES_KEY,
)
from collector.asset_feed import AssetFeed
from collector.figures import DEFAULT_DAYS, FIGURES_EVERY_S, Figures
from collector.page_reliability import add_reliability_page
from collector.rollout import rollout_due
from collector.site_calendars import run_figures, site_zone
from collector.store_assets import AssetStore
from collector.store_assets_read import AssetReader, AssetStoreError

if TYPE_CHECKING:
    from collector.config import CollectorConfig
    from collector.fleet import StationTransition

log = logging.getLogger(__name__)
FIGURES_POLL_S: Final = 5.0


@dataclass(slots=True)
class AssetRuntime:
    """What the background steps computed last; views read it, never compute it."""

    figures: Figures | None = None
    readiness_seen: int = 0  # the feed's committed readiness rows when figures were computed
    rollout_due: dict[str, float] = field(default_factory=dict)  # site -> earliest deadline
    rollout_registry: object = None  # the registry rollout_due was worked out from


RUNTIME_KEY: Final = web.AppKey("pantau_asset_runtime", AssetRuntime)


def install_assets(app: web.Application, config: CollectorConfig) -> None:
    store = AssetStore(config.state.data_dir, config.state.retention_days)
    app[ASSETS_KEY] = AssetFeed(store, config.repairs.min_open_s)
    app[RUNTIME_KEY] = AssetRuntime()
    app[FIGURES_KEY] = lambda: app[RUNTIME_KEY].figures
    app[ROLLOUT_KEY] = lambda: app[RUNTIME_KEY].rollout_due
    add_asset_routes(app)
    add_repair_routes(app)
    add_reliability_routes(app)
    add_reliability_page(app)


async def assets_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open the asset database (a failure does not stop the collector: the feed retries),
    and commit its records until shutdown."""
    feed = app[ASSETS_KEY]
    await feed.open()
    task = asyncio.ensure_future(feed.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await feed.store.close()


def tick_assets(app: web.Application, transitions: Sequence[StationTransition],
                now: float) -> None:
    """From the app's tick: digest what changed in the fleet since the last one."""
    feed = app[ASSETS_KEY]
    feed.note_transitions(transitions)
    feed.step(app[FLEET_KEY], now, app[HEALTH_KEY].ready)
    refresh_rollout(app, transitions)


def refresh_rollout(app: web.Application, transitions: Sequence[StationTransition]) -> None:
    """The rollout deadlines, again when the registry changed or a station left or joined
    `planned` (a planned station that reports is simply online); else they stand."""
    runtime, fleet = app[RUNTIME_KEY], app[FLEET_KEY]
    registry = fleet.registry
    moved = any("planned" in (t.old, t.new) or t.old is None for t in transitions)
    if registry is runtime.rollout_registry and not moved:
        return
    runtime.rollout_registry = registry

    def still_planned(station: str) -> bool:
        view = fleet.station(station)
        return view is not None and view.state == "planned"

    def site_date(site: str) -> date | None:
        info = registry.sites.get(site)
        return info.install_by if info is not None else None

    planned = [e for e in registry.stations.values() if e.lifecycle == "planned"]
    runtime.rollout_due = rollout_due(planned, site_date, partial(site_zone, registry),
                                      still_planned)


def figures_due(figures: Figures | None, now: float, readiness_rows: int, seen: int) -> bool:
    """Every FIGURES_EVERY_S; sooner while the last figures had no availability at all and
    readiness rows came since (a fresh collector shows figures within seconds, not a minute)."""
    if figures is None or now - figures.at >= FIGURES_EVERY_S:
        return True
    return readiness_rows != seen and not any(s.windows for s in figures.sites.values())


async def figures_step(app: web.Application) -> None:
    """The reliability figures, from the asset database in a worker thread, when due."""
    runtime, feed = app[RUNTIME_KEY], app[ASSETS_KEY]
    registry, now = app[FLEET_KEY].registry, app[CLOCK_KEY]()
    rows = feed.readiness_committed
    if not figures_due(runtime.figures, now, rows, runtime.readiness_seen):
        return
    runtime.readiness_seen = rows
    reader = AssetReader(feed.store.path)
    clock = app[SCHEDULES_KEY].clock
    try:
        runtime.figures = await asyncio.to_thread(run_figures, reader, registry, now,
                                                  DEFAULT_DAYS, None, clock)
    except AssetStoreError as exc:
        log.warning("reliability figures not updated: %s", exc)


async def prune_assets(app: web.Application, now: float) -> None:
    """Retention of the asset database (hourly, with the history's); a failure is logged."""
    try:
        deleted = await app[ASSETS_KEY].store.prune(now)
    except AssetStoreError as exc:
        log.warning("asset retention not applied: %s", exc)
        return
    if deleted:
        log.info("asset retention: %d old rows deleted", deleted)


def metrics_text(app: web.Application) -> bytes:
    runtime = app[RUNTIME_KEY]
    return reliability_metrics.render(runtime.figures, app[ASSETS_KEY].repairs.open_by_site(),
                                      app[FLEET_KEY].registry.sites, runtime.rollout_due)
