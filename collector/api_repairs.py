"""`/api/v1/repairs`: repair records, and the one route that writes (a contract).

`POST /api/v1/repairs/{id}` lets the people who order parts set `ordered_at`,
`ticket` and `note`. Refusals, in the order they are checked:

| answer | when |
|---|---|
| 401 | basic auth is on and the request has no valid credentials (the auth middleware) |
| 403 | writes are disabled: no `[repairs] writers`, or no basic auth |
| 403 | the user is not one of `[repairs] writers` |
| 415 | the body is not `application/json` |
| 413 | the body is over 4 KiB |
| 404 | no repair has that id |
| 400 | the body is not a JSON object of those fields, or a field is wrong |

Each change is logged with the user who made it, and kept in the record
(`updated_by`, `updated_at`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import Final

from aiohttp import web

from collector.api import allow_params, choice_param, fail, id_param, json_response
from collector.api_assets import reader
from collector.app_keys import ASSETS_KEY, CONFIG_KEY, now
from collector.csv_out import csv_text
from collector.http_auth import USER_KEY
from collector.repair_sync import REPAIR_SYNC_KEY, RepairWrite
from collector.repairs import Repair
from collector.rfc3339 import parse, utc_text
from collector.store_assets import RepairEdit
from collector.store_assets_read import AssetStoreError

log = logging.getLogger(__name__)

MAX_BODY: Final = 4096
MAX_TICKET: Final = 64
MAX_NOTE: Final = 500
ID_RE: Final = re.compile(r"[0-9a-f]{16}")
REPAIR_COLUMNS: Final = (
    "id", "site", "station", "role", "status", "model_vid", "model_pid", "model_name",
    "opened_at", "opened_at_ts", "closed_at", "closed_at_ts", "outcome", "ordered_at",
    "ordered_at_ts", "ticket", "note",
)


def add_repair_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/repairs", repairs_handler)
    app.router.add_post("/api/v1/repairs/{id}", edit_handler)


def repair_json(r: Repair) -> dict[str, object]:
    return {
        "id": r.id, "site": r.site, "station": r.station, "role": r.role, "status": r.status,
        "model": {"vid": r.model.vid or None, "pid": r.model.pid or None,
                  "name": r.model.name or None},
        "opened_at": utc_text(r.opened_at), "opened_at_ts": r.opened_at,
        "closed_at": utc_text(r.closed_at), "closed_at_ts": r.closed_at,
        "outcome": r.outcome,
        "ordered_at": utc_text(r.ordered_at), "ordered_at_ts": r.ordered_at,
        "ticket": r.ticket, "note": r.note,
    }


def _ts(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def repairs_csv(repairs: list[Repair]) -> str:
    return csv_text(REPAIR_COLUMNS, (
        (r.id, r.site, r.station, r.role, r.status, r.model.vid, r.model.pid, r.model.name,
         utc_text(r.opened_at), _ts(r.opened_at), utc_text(r.closed_at), _ts(r.closed_at),
         r.outcome, utc_text(r.ordered_at), _ts(r.ordered_at), r.ticket, r.note)
        for r in repairs))


async def repairs_handler(request: web.Request) -> web.Response:
    allow_params(request, ("site", "station", "state", "format"))
    site, station = id_param(request, "site"), id_param(request, "station")
    state = choice_param(request, "state", ("open", "closed"))
    fmt = choice_param(request, "format", ("json", "csv")) or "json"
    source = reader(request.app)
    try:
        repairs = await asyncio.to_thread(source.repairs, site, station, state)
    except AssetStoreError as exc:
        fail(web.HTTPServiceUnavailable, f"repair records cannot be read: {exc}")
    if fmt == "json":
        return json_response({"count": len(repairs), "repairs": [repair_json(r) for r in repairs]})
    stamp = time.strftime("%Y%m%d-%H%M", time.gmtime(now(request.app)))
    return web.Response(
        text=repairs_csv(repairs), content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition":
                 f'attachment; filename="pantau-repairs-{site or "all"}-{stamp}.csv"'})


def writer_of(request: web.Request) -> str:
    """The user allowed to write, or a 403 saying why not (401s come from the middleware)."""
    config = request.app[CONFIG_KEY]
    user = request.get(USER_KEY)
    if not config.repairs.writers or not config.http.users or user is None:
        fail(web.HTTPForbidden, "writes are disabled on this collector: set [repairs] writers "
                                "and [http] basic_auth_users_file to allow them")
    if user not in config.repairs.writers:
        fail(web.HTTPForbidden, f"user {user!r} may not change repairs; "
                                "ask an administrator to add you to [repairs] writers")
    return str(user)


async def read_body(request: web.Request) -> object:
    if request.content_type != "application/json":
        fail(web.HTTPUnsupportedMediaType, "send the fields as JSON with Content-Type: "
                                           "application/json")
    body = b"" if (request.content_length or 0) > MAX_BODY else await request.content.read(
        MAX_BODY + 1)
    if len(body) > MAX_BODY or (request.content_length or 0) > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(
            MAX_BODY, request.content_length or len(body), content_type="application/json",
            text=json.dumps({"error": f"the body may be at most {MAX_BODY} bytes"}))
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError):
        fail(web.HTTPBadRequest, 'the body is not JSON; send e.g. {"ticket": "INC-1234"}')


def parse_edit(doc: object) -> RepairEdit:
    if not isinstance(doc, dict) or not doc:
        fail(web.HTTPBadRequest, "expected a JSON object with ordered_at, ticket and/or note")
    unknown = sorted(set(doc) - {"ordered_at", "ticket", "note"})
    if unknown:
        fail(web.HTTPBadRequest, f"unknown field(s) {', '.join(unknown)}; "
                                 "only ordered_at, ticket and note can be set")
    ordered_at = None
    if "ordered_at" in doc:
        try:
            ordered_at = parse(doc["ordered_at"]) if isinstance(doc["ordered_at"], str) else None
        except ValueError:
            ordered_at = None
        if ordered_at is None:
            fail(web.HTTPBadRequest, "ordered_at: expected an RFC 3339 time with its offset, "
                                     'like "2026-01-05T09:30:00+07:00"')
    return RepairEdit(ordered_at, _text(doc, "ticket", MAX_TICKET), _text(doc, "note", MAX_NOTE))


def valid_write(write: RepairWrite) -> bool:
    """Another replica's write holds to the same bounds as one made here."""
    texts = ((write.ticket, MAX_TICKET), (write.note, MAX_NOTE), (write.by, MAX_TICKET))
    return (ID_RE.fullmatch(write.id) is not None
            and all(t is None or len(t) <= limit for t, limit in texts)
            and any(v is not None for v in (write.ordered_at, write.ticket, write.note)))


def _text(doc: dict[str, object], name: str, limit: int) -> str | None:
    if name not in doc:
        return None
    value = doc[name]
    if not isinstance(value, str) or len(value) > limit:
        fail(web.HTTPBadRequest, f"{name}: expected text of at most {limit} characters")
    return value


async def edit_handler(request: web.Request) -> web.Response:
    allow_params(request, ())
    user = writer_of(request)
    doc = await read_body(request)
    repair_id = request.match_info["id"]
    source = reader(request.app)
    if ID_RE.fullmatch(repair_id) is None or (
            await asyncio.to_thread(source.repair, repair_id)) is None:
        fail(web.HTTPNotFound, f"no repair {repair_id[:40]!r}; see /api/v1/repairs for the ids")
    edit = parse_edit(doc)
    feed = request.app[ASSETS_KEY]
    try:
        await feed.store.update_repair(repair_id, edit, user, now(request.app))
        updated = await asyncio.to_thread(source.repair, repair_id)
    except AssetStoreError as exc:
        fail(web.HTTPServiceUnavailable, f"the repair could not be saved: {exc}")
    assert updated is not None
    feed.repairs.take_edit(repair_id, updated)
    sync = request.app.get(REPAIR_SYNC_KEY)
    if sync is not None:  # an app without ingest (the API alone) has no replicas to tell
        sync.sent(repair_id, edit, user, now(request.app))
    changed = ", ".join(f"{name}={getattr(edit, name)!r}" for name in ("ordered_at", "ticket",
                                                                       "note")
                        if getattr(edit, name) is not None)
    log.info("repair %s (%s %s): %s set by %s", repair_id, updated.station, updated.role,
             changed, user)
    return json_response(repair_json(updated))
