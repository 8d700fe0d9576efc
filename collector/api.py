"""The collector's JSON API under /api/v1 (its paths and fields are a contract).

Handlers read the Fleet directly: they run on the event-loop thread that also
applies MQTT messages, so a response is one consistent snapshot. History comes
from the Store in a worker thread. Nothing here exposes configuration or
credentials: the fleet state holds none, and responses are built field by
field so a new internal field never leaks by accident.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final, NoReturn, cast

import msgspec
from aiohttp import web

from collector.api_sites import fleet_json, site_json
from collector.app_keys import ASSETS_KEY, FLEET_KEY, STORE_KEY, now
from collector.offices import fleet_line, office_list
from collector.parts import PartIssue, part_issues, parts_csv, site_rollup, station_problems
from collector.recent_events import read_recent_events
from collector.rfc3339 import utc_text
from collector.store import StoredEvent, StoreError
from pantau import wire
from pantau.wire import ID_PATTERN, is_valid_id

if TYPE_CHECKING:
    from collector.fleet import SiteView, StationView

STATES: Final = ("online", "offline", "lost", "stale", "never_seen", "planned")
MAX_EVENTS: Final = 1000
DEFAULT_EVENTS: Final = 100
_ENCODER: Final = msgspec.json.Encoder()
_JSON: Final = "application/json"


class SummaryCache:
    """Encoded station summaries keyed by view version.

    A national fleet changes a few stations per second, so a full listing
    re-encodes only those instead of every station (tens of thousands) on
    the event loop that also ingests MQTT.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, bytes]] = {}

    def encoded(self, views: list[StationView], complete: bool) -> list[bytes]:
        """`complete`: `views` is the whole fleet, so entries of vanished stations go."""
        fresh: dict[str, tuple[int, bytes]] = {}
        for view in views:
            hit = self._entries.get(view.station)
            if hit is None or hit[0] != view.version:
                hit = (view.version, _ENCODER.encode(station_summary(view)))
            fresh[view.station] = hit
        if complete:
            self._entries = fresh
        else:
            self._entries.update(fresh)
        return [fresh[v.station][1] for v in views]


_SUMMARIES: Final = web.AppKey("pantau_api_summaries", SummaryCache)


def add_api_routes(app: web.Application) -> None:
    """Register /api/v1/*; reads FLEET_KEY, STORE_KEY (events only) and CLOCK_KEY."""
    app[_SUMMARIES] = SummaryCache()
    app.router.add_get("/api/v1/stations", stations_handler)
    app.router.add_get("/api/v1/stations/{station}", station_handler)
    app.router.add_get("/api/v1/sites", sites_handler)
    app.router.add_get("/api/v1/events", events_handler)
    app.router.add_get("/api/v1/parts", parts_handler)


# --- responses and parameters ------------------------------------------------

def json_response(data: object, status: int = 200) -> web.Response:
    resp = web.Response(body=_ENCODER.encode(data), status=status, content_type=_JSON)
    resp.enable_compression()  # only when the client accepts it; big lists shrink ~10x
    return resp


def fail(exc: type[web.HTTPError], message: str) -> NoReturn:
    raise exc(text=_ENCODER.encode({"error": message}).decode(), content_type=_JSON)


def allow_params(request: web.Request, allowed: Iterable[str]) -> None:
    """A misspelt filter would silently return everything; refuse it instead."""
    names = sorted(set(request.query) - set(allowed))
    if names:
        fail(web.HTTPBadRequest,
             f"unknown query parameter(s) {', '.join(names)}; use {', '.join(sorted(allowed))}")


def id_param(request: web.Request, name: str) -> str | None:
    value = request.query.get(name)
    if value is not None and not is_valid_id(value):
        fail(web.HTTPBadRequest,
             f"{name}={value[:80]!r} is not a valid id: must match {ID_PATTERN}")
    return value


def choice_param(request: web.Request, name: str, choices: tuple[str, ...]) -> str | None:
    value = request.query.get(name)
    if value is not None and value not in choices:
        fail(web.HTTPBadRequest, f"{name}={value[:80]!r} is not one of {', '.join(choices)}")
    return value


def number_param(request: web.Request, name: str, kind: type[int] | type[float],
                 low: float, high: float) -> float | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = kind(raw)
    except ValueError:
        noun = "whole number" if kind is int else "number"
        fail(web.HTTPBadRequest, f"{name}={raw[:80]!r} is not a {noun}")
    if not low <= value <= high:  # also refuses nan
        fail(web.HTTPBadRequest, f"{name}={raw[:80]!r} must be between {low:g} and {high:g}")
    return value


# --- stations and sites ------------------------------------------------------

def station_summary(view: StationView) -> dict[str, object]:
    return {
        "station": view.station, "site": view.site, "state": view.state,
        "state_since": view.state_since, "up": view.up, "ready": view.ready,
        "registered": view.registered, "lifecycle": view.lifecycle, "profile": view.profile,
        "hostname": view.hostname, "agent_version": view.agent_version,
        "last_heartbeat_ts": view.last_heartbeat_ts, "clock_offset_s": view.clock_offset_s,
        "problems": station_problems(view.components),
        "unexpected_devices": len(view.unexpected),
    }


def station_detail(view: StationView, events: Iterable[StoredEvent],
                   events_error: str) -> dict[str, object]:
    """`recent_events` as the agents sent them (wire.Event); `recent_events_error` only
    when the history store could not be read (the rest of the view is live state)."""
    detail: dict[str, object] = {
        **station_summary(view),
        "boot_id": view.boot_id, "session": view.session, "last_seen": view.last_seen,
        "interval_s": view.interval_s,
        "components": view.components, "checks": view.checks, "host": view.host,
        "unexpected": view.unexpected, "recent_events": [as_sent(e) for e in events],
    }
    if events_error:
        detail["recent_events_error"] = events_error
    return detail


def as_sent(ev: StoredEvent) -> wire.Event:
    """The stored event as the agent sent it (its queue mark left out); the store keeps
    only statuses the wire allowed."""
    return wire.Event(v=wire.PROTOCOL_VERSION, site=ev.site, station=ev.station,
                      boot_id=ev.boot_id, seq=ev.seq, ts=ev.ts, component=ev.component,
                      from_=cast(wire.ComponentStatus, ev.from_),
                      to=cast(wire.ComponentStatus, ev.to), detail=ev.detail)


async def stations_handler(request: web.Request) -> web.Response:
    allow_params(request, ("site", "state"))
    site, state = id_param(request, "site"), choice_param(request, "state", STATES)
    views = [
        v for v in request.app[FLEET_KEY].stations()
        if (site is None or v.site == site) and (state is None or v.state == state)
    ]
    parts = request.app[_SUMMARIES].encoded(views, complete=site is None and state is None)
    body = b'{"count":%d,"stations":[%b]}' % (len(views), b",".join(parts))
    resp = web.Response(body=body, content_type=_JSON)
    resp.enable_compression()
    return resp


async def station_handler(request: web.Request) -> web.Response:
    allow_params(request, ())
    station_id = request.match_info["station"]
    if not is_valid_id(station_id):
        fail(web.HTTPBadRequest,
             f"{station_id[:80]!r} is not a valid station id: must match {ID_PATTERN}")
    view = request.app[FLEET_KEY].station(station_id)
    if view is None:
        fail(web.HTTPNotFound,
             f"no station {station_id!r}: it is not in the registry and has never reported; "
             "check the id against /api/v1/stations or fleet.toml")
    events, events_error = await read_recent_events(request.app, station_id)
    return json_response(station_detail(view, events, events_error))


async def sites_handler(request: web.Request) -> web.Response:
    allow_params(request, ())
    all_offices = office_list(request.app, now(request.app))
    sites = [site_json(o) for o in all_offices]
    return json_response({"count": len(sites), "sites": sites,
                          "fleet": fleet_json(fleet_line(all_offices))})


# --- events ------------------------------------------------------------------

def event_json(ev: StoredEvent) -> dict[str, object]:
    return {
        "id": ev.id, "station": ev.station, "site": ev.site, "boot_id": ev.boot_id,
        "seq": ev.seq, "ts": ev.ts, "received": ev.received, "component": ev.component,
        "from": ev.from_, "to": ev.to, "detail": ev.detail,
    }


async def events_handler(request: web.Request) -> web.Response:
    allow_params(request, ("station", "site", "since", "limit", "before"))
    station, site = id_param(request, "station"), id_param(request, "site")
    since = number_param(request, "since", float, 0.0, 1e11)
    limit = int(number_param(request, "limit", int, 1, MAX_EVENTS) or DEFAULT_EVENTS)
    before = number_param(request, "before", int, 1, 2**63 - 1)
    store = request.app.get(STORE_KEY)
    if store is None:
        fail(web.HTTPServiceUnavailable, "event history is not enabled on this collector")
    try:
        page = await asyncio.to_thread(
            store.events, station=station, site=site, since=since, limit=limit,
            before_id=None if before is None else int(before),
        )
    except (StoreError, sqlite3.Error) as exc:
        fail(web.HTTPServiceUnavailable, f"event history cannot be read: {exc}")
    next_url = None
    if len(page) == limit:
        next_url = str(request.rel_url.update_query(before=page[-1].id))
    return json_response({"count": len(page), "events": [event_json(e) for e in page],
                          "next": next_url})


# --- parts -------------------------------------------------------------------

def parts_json(issues: list[PartIssue], sites: Iterable[SiteView], at: float) -> dict[str, object]:
    names: Mapping[str, SiteView] = {s.site: s for s in sites}
    return {
        "generated_at": at,
        "count": len(issues),
        "parts": [
            {"site": i.site, "station": i.station, "station_state": i.station_state,
             "role": i.role, "kind": i.kind, "status": i.status, "since": i.since,
             "detail": i.detail, "model_to_order": i.order.model_to_order or None,
             "open_for_s": i.open_for_s(at), "ordered_at": utc_text(i.order.ordered_at),
             "ordered_at_ts": i.order.ordered_at}
            for i in issues
        ],
        "sites": [
            {"site": r.site, "name": r.name, "region": r.region, "roles": r.roles,
             "total": r.total}
            for r in site_rollup(issues, names.values())
        ],
    }


async def parts_handler(request: web.Request) -> web.Response:
    allow_params(request, ("format", "site"))
    fmt = choice_param(request, "format", ("json", "csv")) or "json"
    site = id_param(request, "site")
    fleet = request.app[FLEET_KEY]
    sites = [s for s in fleet.sites() if site is None or s.site == site]
    feed = request.app.get(ASSETS_KEY)
    issues = part_issues((v for v in fleet.stations() if site is None or v.site == site),
                         feed.order_info if feed is not None else None)
    at = now(request.app)
    if fmt == "json":
        return json_response(parts_json(issues, sites, at))
    stamp = time.strftime("%Y%m%d-%H%M", time.gmtime(at))
    filename = f"pantau-parts-{site or 'all'}-{stamp}.csv"
    return web.Response(
        text=parts_csv(issues, sites, at), content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
