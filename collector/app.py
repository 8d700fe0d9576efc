"""The collector's aiohttp application: shared objects, background tasks, routes.

Start-up order (aiohttp `cleanup_ctx`, torn down in reverse):
store open + Fleet de-dup marks restored → asset store open, register and
repairs restored (collector.app_assets) → MQTT session → history flusher →
fleet ticker and retention → process sampler → reliability figures →
registry reload on SIGHUP. In reverse, the flusher's last commit publishes
its acks while the MQTT session is still up, and the stores close last.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from collector import process_metrics
from collector.api import add_api_routes
from collector.api_repairs import valid_write
from collector.app_assets import (
    FIGURES_POLL_S,
    assets_ctx,
    figures_step,
    install_assets,
    metrics_text,
    prune_assets,
    tick_assets,
)
from collector.app_keys import (
    CAPACITY_KEY,
    CLOCK_KEY,
    CONFIG_KEY,
    FLEET_KEY,
    HEALTH_KEY,
    SCHEDULES_KEY,
    STATS_KEY,
    STORE_KEY,
    Health,
)
from collector.config import CollectorConfig
from collector.dispatch import Dispatcher
from collector.exposition import CONTENT_TYPE, MetricsRenderer
from collector.exposition_gzip import accepts_gzip
from collector.exposition_stream import ExpositionSender
from collector.fleet import Fleet
from collector.history import History
from collector.http_auth import install_basic_auth
from collector.mqtt.session import IngestSession
from collector.page import add_page_routes
from collector.registry import Registry, RegistryError, load_registry
from collector.repair_sync import REPAIR_SYNC_KEY, install_repair_sync
from collector.schedule import REAL_TIME, ScheduleClock
from collector.site_capacity import CapacityTally
from collector.site_schedule import SiteSchedules, holiday_warnings
from collector.site_schedule_metrics import SiteMetrics
from collector.stats import IngestStats, RegistryStats
from collector.store import Store
from pantau import __version__
from pantau.revision import source_revision

log = logging.getLogger(__name__)

TICK_S: Final = 1.0
PROCESS_SAMPLE_S: Final = 5.0
PRUNE_EVERY_S: Final = 3600.0

HISTORY_KEY: Final = web.AppKey("pantau_history", History)
# Fewer cyclic-GC passes while ingesting: every heartbeat allocates and frees
# dozens of objects, so the default gen-0 threshold (700) ran a collection every
# few messages, and while a large fleet loads, full ones over millions of
# long-lived objects. Cyclic garbage is rare here, so memory does not grow.
# Measured (tests/bench drain of 100k stations): +13% ingest rate.
INGEST_GC_THRESHOLD: Final = (20_000, 20, 20)
INGEST_KEY: Final = web.AppKey("pantau_ingest", IngestSession)
RENDERER_KEY: Final = web.AppKey("pantau_renderer", MetricsRenderer)
SENDER_KEY: Final = web.AppKey("pantau_metrics_sender", ExpositionSender)
SITE_METRICS_KEY: Final = web.AppKey("pantau_site_metrics", SiteMetrics)


@dataclass(slots=True)
class Runtime:
    """Values background tasks update after start (the app's own mapping is frozen then)."""

    process: process_metrics.ProcessSample | None = None
    pruned_at: float = 0.0


RUNTIME_KEY: Final = web.AppKey("pantau_runtime", Runtime)


def build_app(
    config: CollectorConfig, registry: Registry, *, clock: Callable[[], float] = time.time,
    schedule_clock: ScheduleClock = REAL_TIME,
) -> web.Application:
    """`schedule_clock`: the offices' clock as a function of `clock` (a compressed day)."""
    app = web.Application()
    fleet = Fleet(registry, now=clock(), stale_factor=config.state.stale_factor)
    stats = IngestStats()
    health = Health(store=stats.store)
    if config.registry is not None:  # the caller loaded it (pantau-collector run did)
        stats.registry = RegistryStats(True, True, clock())
    store = Store(config.state.data_dir, config.state.retention_days)
    history = History(store, stats.store, restore=fleet.restore_event_marks,
                      max_pending_rows=config.state.max_pending_rows)
    dispatcher = Dispatcher(fleet, stats, history, config.topic_root)
    app[CONFIG_KEY], app[FLEET_KEY], app[STATS_KEY] = config, fleet, stats
    app[STORE_KEY], app[HEALTH_KEY], app[HISTORY_KEY] = store, health, history
    app[INGEST_KEY] = session = IngestSession(config, dispatcher, stats, health, clock=clock)
    history.durable_mark, session.on_unacked = session.durable_mark, history.wake
    app[RENDERER_KEY] = MetricsRenderer(__version__, source_revision())
    app[SENDER_KEY] = ExpositionSender()
    app[RUNTIME_KEY], app[CLOCK_KEY] = Runtime(), clock
    _add_site_schedules(app, registry, schedule_clock)
    install_assets(app, config)
    app.cleanup_ctx.extend([
        _store_ctx, assets_ctx, _ingest_ctx, _history_ctx, _every(TICK_S, _tick),
        _every(PROCESS_SAMPLE_S, _sample_process), _every(FIGURES_POLL_S, figures_step),
        _registry_reload_ctx, _metrics_sender_ctx,
    ])
    # After the asset store's context: started once it is open, stopped before it closes.
    install_repair_sync(app, app[INGEST_KEY], config, valid_write)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/healthz", healthz_handler)
    app.router.add_get("/readyz", readyz_handler)
    add_api_routes(app)
    add_page_routes(app)
    install_basic_auth(app, dict(config.http.users), config.http.auth_exempt)
    return app


# --- routes ------------------------------------------------------------------

async def metrics_handler(request: web.Request) -> web.StreamResponse:
    app = request.app
    schedules = app[SCHEDULES_KEY]
    capacity = app[CAPACITY_KEY].get(app[FLEET_KEY], schedules, app[CLOCK_KEY]())
    hours = app[SITE_METRICS_KEY].render(schedules, capacity)
    extra = hours + metrics_text(app) + app[REPAIR_SYNC_KEY].metrics_text().encode()
    pieces = app[RENDERER_KEY].render_pieces(app[FLEET_KEY], app[STATS_KEY],
                                             app[RUNTIME_KEY].process, extra)
    headers = {"Content-Type": CONTENT_TYPE, "Vary": "Accept-Encoding"}
    gzip = accepts_gzip(request.headers.get("Accept-Encoding", ""))
    return await app[SENDER_KEY].send(request, pieces, headers, gzip)


async def healthz_handler(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz_handler(request: web.Request) -> web.Response:
    health = request.app[HEALTH_KEY]
    if health.ready:
        return web.json_response({"ready": True})
    return web.json_response({"ready": False, "reason": health.reason()}, status=503)


# --- background work ---------------------------------------------------------

async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    # A store that cannot open does not stop the collector: the history flusher retries,
    # /readyz and /metrics say so, and the fleet view goes on.
    await app[HISTORY_KEY].open()
    yield
    await app[STORE_KEY].close()


async def _metrics_sender_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    await asyncio.to_thread(app[SENDER_KEY].close)  # a scrape still sending ends first


async def _ingest_ctx(app: web.Application) -> AsyncIterator[None]:
    session = app[INGEST_KEY]
    old_gc = gc.get_threshold()
    gc.set_threshold(*INGEST_GC_THRESHOLD)
    try:
        async with _running(session.run()):
            yield
            await session.stop()
    finally:
        gc.set_threshold(*old_gc)


async def _history_ctx(app: web.Application) -> AsyncIterator[None]:
    async with _running(app[HISTORY_KEY].run(app[INGEST_KEY].publish_ack)):
        yield


def _every(
    period_s: float, step: Callable[[web.Application], Awaitable[None]]
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def loop(app: web.Application) -> None:
        while True:
            try:
                await step(app)
            except Exception:  # a failing step must not stop the others or the next run
                log.exception("periodic task %s failed", step.__name__)
            await asyncio.sleep(period_s)

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        async with _running(loop(app)):
            yield

    return ctx


async def _tick(app: web.Application) -> None:
    fleet = app[FLEET_KEY]
    now = app[CLOCK_KEY]()
    fleet.tick(now)
    app[SCHEDULES_KEY].refresh(fleet.registry, now)
    transitions = fleet.drain_transitions()
    app[HISTORY_KEY].add_transitions(transitions)
    tick_assets(app, transitions, now)
    runtime = app[RUNTIME_KEY]
    if now - runtime.pruned_at >= PRUNE_EVERY_S and app[STORE_KEY].is_open:
        runtime.pruned_at = now
        await app[HISTORY_KEY].prune(now)
        await prune_assets(app, now)


async def _sample_process(app: web.Application) -> None:
    try:
        app[RUNTIME_KEY].process = await asyncio.to_thread(process_metrics.sample)
    except OSError:
        app[RUNTIME_KEY].process = None  # no /proc: the process_* families are left out


async def _registry_reload_ctx(app: web.Application) -> AsyncIterator[None]:
    path = app[CONFIG_KEY].registry
    loop = asyncio.get_running_loop()
    if path is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals off main thread
            loop.add_signal_handler(signal.SIGHUP, lambda: reload_registry(app))
    yield
    if path is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGHUP)


def reload_registry(app: web.Application) -> bool:
    """Re-read the registry file; on error keep the current one (state is never lost)."""
    path = app[CONFIG_KEY].registry
    if path is None:
        return False
    loads = app[STATS_KEY].registry
    try:
        registry = load_registry(path)
    except RegistryError as exc:
        loads.last_load_ok = False
        log.error("registry not reloaded, keeping the current one: %s", exc)
        return False
    now = app[CLOCK_KEY]()
    app[FLEET_KEY].set_registry(registry, now)
    app[SCHEDULES_KEY].refresh(registry, now)
    loads.last_load_ok, loads.last_success_ts = True, now
    log.info("registry reloaded from %s: %d stations", path, len(registry.stations))
    _warn_holidays(app, registry, now)
    return True


def _add_site_schedules(app: web.Application, registry: Registry, clock: ScheduleClock) -> None:
    schedules = SiteSchedules(clock)
    schedules.refresh(registry, app[CLOCK_KEY]())
    app[SCHEDULES_KEY], app[CAPACITY_KEY] = schedules, CapacityTally()
    app[SITE_METRICS_KEY] = SiteMetrics()
    _warn_holidays(app, registry, app[CLOCK_KEY]())


def _warn_holidays(app: web.Application, registry: Registry, now: float) -> None:
    for warning in holiday_warnings(registry, now, app[SCHEDULES_KEY].clock):
        log.warning("%s", warning)


@contextlib.asynccontextmanager
async def _running(coro: Awaitable[None]) -> AsyncIterator[asyncio.Task[None]]:
    """Run `coro` as a task for the duration of the block; cancel and await it after."""
    task = asyncio.ensure_future(coro)
    task.add_done_callback(_report_death)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _report_death(task: asyncio.Task[None]) -> None:
    # Said when it happens, not at shutdown: a dead ingest or history loop
    # leaves the collector serving stale state.
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("background task %s stopped on an error; restart the collector",
                  task.get_coro(), exc_info=exc)
