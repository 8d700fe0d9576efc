"""Server-rendered status page: `/` (fleet by region and site) and `/stations/{id}`.

Plain HTML with inline CSS and a meta refresh: no CDN, no JavaScript, so it
works on an office laptop on a thin district link. Every value from the field
(ids, names, details, products) is HTML-escaped; prose comes from `i18n` only.
Problems carry a text mark as well as a colour (colour-blind readers, printouts).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiohttp import web

from collector.app_keys import FLEET_KEY, now
from collector.i18n import Lang, plural_key, text
from collector.page_html import (
    DOWN_STATES,
    REFRESH_S,
    Markup,
    esc,
    h,
    held,
    mark,
    render,
    request_lang,
    site_label,
    station_link,
    when,
)
from collector.page_station import station_page_handler
from collector.parts import station_problems

if TYPE_CHECKING:
    from collector.fleet import SiteView
    from collector.station import StationView



def add_page_routes(app: web.Application) -> None:
    """Register `/` and `/stations/{station}`; reads FLEET_KEY and CLOCK_KEY."""
    app.router.add_get("/", overview_handler)
    app.router.add_get("/stations/{station}", station_page_handler)


# --- overview ----------------------------------------------------------------

def problems_of(lang: Lang, view: StationView, at: float) -> list[Markup]:
    """One line per thing wrong with a station; planned stations have none."""
    down, parts = view.state in DOWN_STATES, station_problems(view.components)
    if not (down or parts or view.unexpected):
        return []  # most stations: skip building markup for them (large fleets)
    link = station_link(lang, view.station)
    items = []
    if view.state == "never_seen":
        # No time: it never reported, so "since" would only be the collector's start.
        items.append(h(lang, "problem_never_seen", station=link))
    elif down:
        items.append(h(lang, "problem_station", station=link,
                       state=text(lang, f"state_{view.state}"),
                       when=held(lang, view.state_since, at)))
    items += [
        h(lang, "problem_part", station=link, component=c.id,
          status=text(lang, f"status_{c.status}"), when=held(lang, c.since, at))
        for c in parts
    ]
    if view.unexpected:
        n = len(view.unexpected)
        devices = ", ".join(d.product or f"{d.vid}:{d.pid}" for d in view.unexpected)
        items.append(h(lang, plural_key("problem_unexpected", n), station=link, n=n,
                       devices=devices))
    return items


def site_card(lang: Lang, site: SiteView, views: Sequence[StationView], at: float) -> Markup:
    problems = [p for v in views for p in problems_of(lang, v, at)]
    cannot_enroll = site.total > 0 and site.ready == 0
    bad = bool(problems) or cannot_enroll
    enroll = h(lang, "site_cannot_enroll" if cannot_enroll else "site_can_enroll")
    parts = [
        f"<h3>{mark(lang, bad)} {site_label(site.name, site.site)}</h3>",
        f"<p>{h(lang, plural_key('site_ready', site.total), ready=site.ready, total=site.total)}"
        " &middot; "
        f'<span class="{"bad-text" if cannot_enroll else ""}">{enroll}</span></p>'
        if site.total else "",
        "" if site.registered else f"<p class=muted>{h(lang, 'site_unregistered')}</p>",
    ]
    if site.planned:
        rollout = h(lang, plural_key("site_rollout", site.planned), planned=site.planned)
        parts.append(f'<p class="rollout">{rollout} '
                     f'<progress value="{site.total}" max="{site.total + site.planned}">'
                     f"</progress></p>")
    waiting = waiting_note(lang, views)
    if problems:
        parts.append("<ul>" + "".join(f"<li>{p}</li>" for p in problems) + "</ul>")
    elif site.total and not waiting:  # "No problems." beside "0 ready" would be a riddle
        parts.append(f"<p>{h(lang, 'site_ok')}</p>")
    parts.append(waiting)
    return Markup(f'<article class="site{" bad" if bad else ""}">{"".join(parts)}</article>')


def waiting_note(lang: Lang, views: Sequence[StationView]) -> Markup:
    """Stations connected but not reported yet: not ready, yet nothing is wrong with them.

    Without this a card can say "0 of 2 stations ready" next to "No problems."
    (for one heartbeat interval after the agents start) and leave the reader guessing.
    """
    waiting = [v.station for v in views if v.state == "online" and v.last_heartbeat_ts is None]
    if not waiting:
        return Markup()
    links = Markup(", ".join(station_link(lang, s) for s in waiting))
    return Markup(f"<p class=muted>{h(lang, 'site_waiting', stations=links)}</p>")


def fleet_header(lang: Lang, views: Sequence[StationView], sites: Sequence[SiteView],
                 at: float) -> Markup:
    installed = [v for v in views if v.state != "planned"]
    counts = (
        (len(installed), plural_key("fleet_stations", len(installed))),
        (sum(v.ready for v in installed), "fleet_ready"),
        (sum(v.state in DOWN_STATES for v in installed), "fleet_down"),
        (len(views) - len(installed), "fleet_planned"),
    )
    spans = "".join(f"<span><b>{n}</b> {h(lang, key)}</span>" for n, key in counts)
    serving = [s for s in sites if s.total > 0]
    enrolling = h(lang, plural_key("fleet_sites_enrolling", len(serving)),
                  n=sum(s.ready > 0 for s in serving), total=len(serving))
    updated = h(lang, "updated", when=when(lang, at, at), every=REFRESH_S)
    return Markup(f"<h1>{h(lang, 'title')}</h1><p class=totals>{spans}"
                  f"<span>{enrolling}</span></p><p class=muted>{updated}</p>")


def regions_html(lang: Lang, sites: Sequence[SiteView],
                 views: Sequence[StationView], at: float) -> Markup:
    by_site: dict[str, list[StationView]] = defaultdict(list)
    for view in views:
        by_site[view.site].append(view)
    by_region: dict[str, list[SiteView]] = defaultdict(list)
    for site in sites:
        by_region[site.region].append(site)
    # Named regions alphabetically; sites without a region (unregistered) last.
    sections = [
        f"<section><h2>{esc(region) if region else h(lang, 'region_none')}</h2><div class=sites>"
        + "".join(site_card(lang, s, by_site[s.site], at)
                  for s in sorted(members, key=lambda s: s.name.lower()))
        + "</div></section>"
        for region, members in sorted(by_region.items(), key=lambda r: (not r[0], r[0].lower()))
    ]
    return Markup("".join(sections) or f"<p>{h(lang, 'fleet_empty')}</p>")


async def overview_handler(request: web.Request) -> web.Response:
    lang = request_lang(request)
    fleet = request.app[FLEET_KEY]
    at = now(request.app)
    views, sites = fleet.stations(), fleet.sites()
    return render(lang, text(lang, "title"), fleet_header(lang, views, sites, at),
                  regions_html(lang, sites, views, at))
