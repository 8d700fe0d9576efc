"""Server-rendered status page: `/` (fleet by region and site) and `/stations/{id}`.

Plain HTML with inline CSS and a meta refresh: no CDN, no JavaScript, so it
works on an office laptop on a thin district link. Every value from the field
(ids, names, details, products) is HTML-escaped; prose comes from `i18n` only.
Problems carry a text mark as well as a colour (colour-blind readers, printouts).
Sites with problems come first; `?open=1` shows only the offices open now.
Each card says whether the office is open (in its own time zone), its next
opening, today's capacity and maintenance (collector/page_hours.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

from aiohttp import web

from collector.app_keys import FLEET_KEY, now
from collector.i18n import Lang, plural_key, text
from collector.offices import Office, fleet_line, office_list
from collector.page_hours import (
    capacity_line,
    hours_line,
    maintenance_lines,
    switched_off,
    switched_off_note,
)
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
from collector.page_parts import rollout_notes, standin_notes
from collector.page_station import station_page_handler
from collector.parts import station_problems

if TYPE_CHECKING:
    from collector.station import StationView


NO_NOTE: Final = Markup()  # a site card's rollout line without a deadline


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


def site_card(lang: Lang, office: Office, views: Sequence[StationView],
              at: float, due: Markup = NO_NOTE) -> tuple[bool, Markup]:
    """The card, and whether it is marked as a problem (problems are listed first)."""
    site = office.site
    shown = [v for v in views if not switched_off(office, v)]
    problems = [p for v in shown for p in problems_of(lang, v, at)]
    bad = bool(problems) or office.short_of_kits
    parts = [f"<h3>{mark(lang, bad)} {site_label(site.name, site.site)}</h3>",
             hours_line(lang, office), readiness(lang, office),
             "" if site.registered else f"<p class=muted>{h(lang, 'site_unregistered')}</p>",
             capacity_line(lang, office), *maintenance_lines(lang, office)]
    if site.planned:
        rollout = h(lang, plural_key("site_rollout", site.planned), planned=site.planned)
        parts.append(f'<p class="rollout">{rollout} '
                     f'<progress value="{site.total}" max="{site.total + site.planned}">'
                     f"</progress>{due}</p>")
    waiting = waiting_note(lang, views)
    if problems:
        parts.append("<ul>" + "".join(f"<li>{p}</li>" for p in problems) + "</ul>")
    elif site.total and not waiting and not office.short_of_kits:
        parts.append(f"<p>{h(lang, 'site_ok')}</p>")  # not beside "0 ready": a riddle
    parts += [standin_notes(lang, shown, at), waiting,
              switched_off_note(lang, office, list(views))]
    return bad, Markup(f'<article class="site{" bad" if bad else ""}">{"".join(parts)}</article>')


def readiness(lang: Lang, office: Office) -> Markup:
    """"2 of 4 stations ready · can enroll today", or while closed what to expect at opening."""
    site, short = office.site, office.short_of_kits
    if not site.total:
        return Markup()
    if office.hours.open:
        count = h(lang, plural_key("site_ready", site.total), ready=site.ready, total=site.total)
        enroll = h(lang, "site_cannot_enroll" if short or office.state == "maintenance"
                   else "site_can_enroll")
    else:
        kits = office.capacity.kits
        count = h(lang, plural_key("site_expected", site.total), kits=kits, total=site.total)
        enroll = h(lang, "site_cannot_enroll_next" if short else "site_can_enroll_next")
    return Markup(f'<p>{count} &middot; <span class="{"bad-text" if short else ""}">{enroll}'
                  "</span></p>")


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


def fleet_header(lang: Lang, views: Sequence[StationView], offices: Sequence[Office],
                 at: float, open_only: bool) -> Markup:
    installed = [v for v in views if v.state != "planned"]
    office_of = {o.site.site: o for o in offices}
    down = [v for v in installed if v.state in DOWN_STATES
            and not switched_off(office_of[v.site], v)]  # kits off for the night are not down
    counts = (
        (len(installed), plural_key("fleet_stations", len(installed))),
        (sum(v.ready for v in installed), "fleet_ready"),
        (len(down), "fleet_down"),
        (len(views) - len(installed), "fleet_planned"),
    )
    spans = "".join(f"<span><b>{n}</b> {h(lang, key)}</span>" for n, key in counts)
    updated = h(lang, "updated", when=when(lang, at, at), every=REFRESH_S)
    reliability = f'<a href="/reliability?lang={lang}">{h(lang, "reliability_link")}</a>'
    return Markup(f"<h1>{h(lang, 'title')}</h1><p class=totals>{spans}</p>"
                  f"<p class=totals>{fleet_sentence(lang, offices)}</p>"
                  f"<p class=muted>{updated} {filter_link(lang, open_only)} {reliability}</p>")


def fleet_sentence(lang: Lang, offices: Sequence[Office]) -> Markup:
    """"N of M offices open now · K can enroll · capacity today P people"."""
    line = fleet_line(offices)
    return Markup(" &middot; ".join((
        h(lang, plural_key("fleet_offices_open", line.offices), n=line.open, total=line.offices),
        h(lang, "fleet_can_enroll", n=line.can_enroll),
        h(lang, plural_key("fleet_capacity", line.capacity_today), n=line.capacity_today),
    )))


def filter_link(lang: Lang, open_only: bool) -> Markup:
    target, key = ("/", "filter_all") if open_only else ("/?open=1", "filter_open")
    sep = "&amp;" if "?" in target else "?"
    return Markup(f'<a class=filter href="{target}{sep}lang={lang}">{h(lang, key)}</a>')


def regions_html(lang: Lang, offices: Sequence[Office], views: Sequence[StationView],
                 at: float, due: Mapping[str, Markup] | None = None) -> Markup:
    by_site: dict[str, list[StationView]] = defaultdict(list)
    for view in views:
        by_site[view.site].append(view)
    by_region: dict[str, list[tuple[bool, str, Markup]]] = defaultdict(list)
    for office in offices:
        bad, card = site_card(lang, office, by_site[office.site.site], at,
                              (due or {}).get(office.site.site, NO_NOTE))
        by_region[office.site.region].append((bad, office.site.name.lower(), card))
    # Problems first: regions with a bad site, then named regions alphabetically and
    # sites without a region (unregistered) last; in a region, bad sites first.
    order = sorted(by_region.items(), key=lambda r: (not any(c[0] for c in r[1]), not r[0],
                                                     r[0].lower()))
    sections = [
        f"<section><h2>{esc(region) if region else h(lang, 'region_none')}</h2><div class=sites>"
        + "".join(card for _, _, card in sorted(cards, key=lambda c: (not c[0], c[1])))
        + "</div></section>"
        for region, cards in order
    ]
    return Markup("".join(sections))


async def overview_handler(request: web.Request) -> web.Response:
    lang = request_lang(request)
    open_only = request.query.get("open") == "1"
    fleet = request.app[FLEET_KEY]
    at = now(request.app)
    views, offices = fleet.stations(), office_list(request.app, at)
    shown = [o for o in offices if o.state == "open"] if open_only else offices
    main = regions_html(lang, shown, views, at, rollout_notes(request.app, lang, at))
    if not main:
        main = h(lang, "filter_none_open" if open_only and offices else "fleet_empty")
        main = Markup(f"<p>{main}</p>")
    return render(lang, text(lang, "title"), fleet_header(lang, views, offices, at, open_only),
                  main)
