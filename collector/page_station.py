"""The station page `/stations/{id}`: components, checks, host health, recent events.

What a technician on the phone with a district office needs: which part is
missing or failed and since when, whether the network checks pass, whether
the PC itself is healthy, and the last transitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiohttp import web

from collector.app_keys import FLEET_KEY, now
from collector.i18n import Lang, text
from collector.page_html import (
    DOWN_STATES,
    Markup,
    agent_text,
    esc,
    h,
    held,
    mark,
    render,
    request_lang,
    site_label,
    table,
    when,
)
from collector.page_parts import part_changes_section
from collector.recent_events import read_recent_events
from pantau import wire
from pantau.wire import is_valid_id

if TYPE_CHECKING:
    from collector.station import StationView
    from collector.store import StoredEvent


async def station_page_handler(request: web.Request) -> web.Response:
    lang = request_lang(request)
    station_id = request.match_info["station"]
    fleet = request.app[FLEET_KEY]
    # Checked before lookup: ids come from the URL, anything may arrive here.
    view = fleet.station(station_id) if is_valid_id(station_id) else None
    if view is None:
        header = Markup(f"<h1>{h(lang, 'title')}</h1>")
        main = Markup(f"<p>{h(lang, 'not_found', station=station_id[:80])}</p>"
                      f"<p>{h(lang, 'not_found_hint')}</p>{back(lang)}")
        return render(lang, text(lang, "title"), header, main, status=404)
    at = now(request.app)
    site = fleet.registry.sites.get(view.site)
    recent, recent_error = await read_recent_events(request.app, station_id)
    sections = (
        summary(lang, view, site.name if site else view.site, at),
        section(lang, "components", components(lang, view.components, at)),
        section(lang, "checks", checks(lang, view.checks)),
        section(lang, "host", host(lang, view.host, at)),
        section(lang, "unexpected", unexpected(lang, view.unexpected)),
        section(lang, "events", events(lang, recent, recent_error, at)),
        await part_changes_section(request, lang, station_id, at),
    )
    title = text(lang, "station_title", station=view.station)
    header = Markup(f"<h1>{esc(title)}</h1>")
    return render(lang, title, header, Markup(back(lang) + "".join(sections)))


def back(lang: Lang) -> Markup:
    return Markup(f'<p><a href="/?lang={lang}">{h(lang, "back")}</a></p>')


def section(lang: Lang, key: str, body: Markup) -> Markup:
    return Markup(f"<section><h2>{h(lang, key)}</h2>{body}</section>")


def status_cell(lang: Lang, status: str) -> Markup:
    """`standin` is ok for enrolling (no problem mark), named as such."""
    return Markup(f"{mark(lang, status not in ('ok', 'standin'))} {h(lang, f'status_{status}')}")


def shown_status(c: wire.Component) -> str:
    return "standin" if c.status == "ok" and c.standin is True else c.status


def state_text(lang: Lang, view: StationView, at: float) -> Markup:
    """ "online for 9 s": how long it has been in this state, not when it was last seen."""
    state = h(lang, f"state_{view.state}")
    if view.state == "never_seen":
        return Markup(f"{state} <span class=muted>({h(lang, 'never_seen_hint')})</span>")
    if view.state == "planned":
        return state  # not installed yet: how long it has been planned says nothing
    return Markup(f"{state} {held(lang, view.state_since, at)}")


def summary(lang: Lang, view: StationView, site_name: str, at: float) -> Markup:
    problem = view.state in DOWN_STATES or not (view.ready or view.state == "planned")
    # round() then + 0.0: a tiny negative offset would otherwise print as "-0.0 s".
    offset = "" if view.clock_offset_s is None else f"{round(view.clock_offset_s, 1) + 0.0:+.1f} s"
    rows = (
        ("field_state", Markup(f"{mark(lang, problem)} {state_text(lang, view, at)}")),
        ("field_site", site_label(site_name, view.site)),
        ("field_profile", esc(view.profile)),
        ("field_registered", h(lang, "yes" if view.registered else "no")),
        ("field_hostname", esc(view.hostname)),
        ("field_agent", esc(view.agent_version)),
        ("field_heartbeat", when(lang, view.last_heartbeat_ts, at)),
        ("field_clock_offset", esc(offset)),
    )
    items = "".join(f"<dt>{h(lang, key)}</dt><dd>{value}</dd>" for key, value in rows)
    return Markup(f"<dl>{items}</dl>")


def device_text(device: wire.Device | None) -> str:
    if device is None:
        return ""
    parts = (f"{device.vid}:{device.pid}", device.manufacturer, device.product,
             device.serial and f"#{device.serial}", device.port, device.speed)
    return " ".join(p for p in parts if p)


def components(lang: Lang, items: Sequence[wire.Component], at: float) -> Markup:
    headers = [h(lang, k) for k in ("col_component", "col_kind", "col_required", "col_status",
                                    "col_since", "col_detail", "col_device")]
    rows = [
        (c.required and c.status != "ok",
         [esc(c.id), esc(c.kind), h(lang, "yes" if c.required else "no"),
          status_cell(lang, shown_status(c)), when(lang, c.since, at), agent_text(c.detail),
          esc(device_text(c.device))])
        for c in items
    ]
    return table(headers, rows, lang)


def checks(lang: Lang, items: Sequence[wire.Check]) -> Markup:
    headers = [h(lang, k) for k in ("col_check", "col_kind", "col_status", "col_latency",
                                    "col_detail")]
    rows = [
        (c.status != "ok",
         [esc(c.id), esc(c.kind), status_cell(lang, c.status),
          esc("" if c.latency_s is None else f"{c.latency_s * 1000:.0f} ms"),
          agent_text(c.detail)])
        for c in items
    ]
    return table(headers, rows, lang)


def host(lang: Lang, info: wire.Host | None, at: float) -> Markup:
    if info is None:
        return Markup(f"<p>{h(lang, 'host_none')}</p>")
    temp = "" if info.temperature_c is None else f"{info.temperature_c:.0f} °C"
    rows = [
        ("host_cpu", esc(f"{info.cpu_ratio:.0%}")),
        ("host_load", esc(f"{info.load1:.2f}")),
        ("host_memory", esc(f"{info.memory_used_ratio:.0%}")),
        ("host_swap", esc(f"{info.swap_used_ratio:.0%}")),
        ("host_temperature", esc(temp)),
        ("host_boot", when(lang, info.boot_time, at)),
    ]
    items = "".join(f"<dt>{h(lang, key)}</dt><dd>{value}</dd>" for key, value in rows)
    # One row per disk inside the same box: a disk is host health like the rest.
    disks = "".join(
        f"<dt>{h(lang, 'host_disk', mount=d.mount)}</dt><dd>"
        f"{h(lang, 'host_disk_usage', used=f'{d.used_ratio:.0%}', free=gb(d.free_bytes))}</dd>"
        for d in info.disks
    )
    return Markup(f"<dl>{items}{disks}</dl>")


def gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB"


def unexpected(lang: Lang, items: Sequence[wire.UnexpectedDevice]) -> Markup:
    headers = [h(lang, "col_device"), h(lang, "col_port")]
    rows = [(True, [esc(f"{d.vid}:{d.pid} {d.product}"), esc(d.port)]) for d in items]
    return table(headers, rows, lang)


def events(lang: Lang, items: Sequence[StoredEvent], error: str, at: float) -> Markup:
    if error:  # the live sections above still stand; /readyz and the store alerts say more
        return Markup(f"<p>{h(lang, 'events_unreadable', reason=error)}</p>")
    headers = [h(lang, k) for k in ("col_time", "col_component", "col_change", "col_detail")]
    rows = [
        (e.to != "ok",
         [when(lang, e.ts, at), esc(e.component),
          Markup(f"{h(lang, f'status_{e.from_}')} &rarr; {h(lang, f'status_{e.to}')}"),
          agent_text(e.detail)])
        for e in reversed(items)  # newest first
    ]
    return table(headers, rows, lang)
