"""The "Reliability / Keandalan" page `/reliability`: availability, repairs, failures per model.

Read from the last reliability figures (computed every minute) and the repair
tracker; nothing is computed here. Prose from `i18n` only; values from the
field (ids, model names, tickets) are escaped like everywhere on the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from aiohttp import web

from collector.app_keys import ASSETS_KEY, FIGURES_KEY, FLEET_KEY, now
from collector.i18n import Lang, duration, text
from collector.page_html import Markup, esc, h, held, render, request_lang, site_label, table, when
from collector.reliability import RepairTimes

if TYPE_CHECKING:
    from collector.figures import Figures, SiteFigures
    from collector.registry import Registry

WORST_STATIONS: Final = 10


def add_reliability_page(app: web.Application) -> None:
    app.router.add_get("/reliability", reliability_page_handler)


def percent(ratio: float | None) -> Markup:
    return esc("" if ratio is None else f"{ratio:.1%}")


def span_text(lang: Lang, seconds: float | None) -> Markup:
    return esc("" if seconds is None else duration(lang, seconds))


def sites_table(lang: Lang, figures: Figures, registry: Registry,
                open_repairs: dict[str, int]) -> Markup:
    keys = ("field_site", "col_today", "col_7d", "col_30d", "col_open_repairs",
            "col_ttr_median", "col_ttr_p90")
    rows = []
    for site, found in sorted(figures.sites.items(), key=lambda kv: _name(registry, kv[0])):
        w = found.windows
        cells = [site_label(_name(registry, site), site), percent(w.get("1d")),
                 percent(w.get("7d")), percent(w.get("30d")), esc(open_repairs.get(site, 0)),
                 span_text(lang, found.repairs.median_s), span_text(lang, found.repairs.p90_s)]
        rows.append((bool(open_repairs.get(site)), cells))
    return table([h(lang, k) for k in keys], rows, lang)


def roles_table(lang: Lang, figures: Figures, registry: Registry) -> Markup:
    keys = ("field_site", "col_component", "col_closed", "col_ttr_median", "col_ttr_p90")
    rows = [
        (False, [site_label(_name(registry, site), site), esc(role), esc(t.closed),
                 span_text(lang, t.median_s), span_text(lang, t.p90_s)])
        for site, found in sorted(figures.sites.items()) for role, t in _roles(found)
    ]
    return table([h(lang, k) for k in keys], rows, lang)


def _roles(found: SiteFigures) -> Sequence[tuple[str, RepairTimes]]:
    return sorted(found.by_role.items())


def models_table(lang: Lang, figures: Figures) -> Markup:
    keys = ("col_model", "col_device", "col_kit_days", "col_failures", "col_per_1000",
            "col_mtbf")
    rows = [
        (m.failures > 0,
         [esc(f"{m.vid}:{m.pid}"), esc(m.name), esc(f"{m.kit_days:.1f}"), esc(m.failures),
          esc("" if m.per_1000_kit_days is None else f"{m.per_1000_kit_days:.1f}"),
          span_text(lang, None if m.mtbf_days is None else m.mtbf_days * 86400)])
        for m in figures.models
    ]
    return table([h(lang, k) for k in keys], rows, lang)


def open_table(lang: Lang, request: web.Request, at: float) -> Markup:
    tracker = request.app[ASSETS_KEY].repairs
    keys = ("col_station", "col_component", "col_status", "col_model_to_order", "col_open_for",
            "col_ordered", "col_ticket")
    rows = [
        (r.status != "standin",
         [esc(r.station), esc(r.role), h(lang, f"status_{r.status}"), esc(r.model.label),
          held(lang, r.opened_at, at), when(lang, r.ordered_at, at) if r.ordered_at else esc(""),
          esc(r.ticket)])
        for r in tracker.listed_open()
    ]
    return table([h(lang, k) for k in keys], rows, lang)


def stations_table(lang: Lang, figures: Figures) -> Markup:
    worst = sorted(figures.stations.items(), key=lambda kv: (kv[1][1], kv[0]))[:WORST_STATIONS]
    rows = [(ratio < 1.0, [esc(station), esc(site), percent(ratio)])
            for station, (site, ratio) in worst]
    return table([h(lang, k) for k in ("col_station", "field_site", "col_availability")], rows,
                 lang)


def _name(registry: Registry, site: str) -> str:
    info = registry.sites.get(site)
    return info.name if info is not None else site


def section(lang: Lang, key: str, body: Markup) -> Markup:
    return Markup(f"<section><h2>{h(lang, key)}</h2>{body}</section>")


async def reliability_page_handler(request: web.Request) -> web.Response:
    lang = request_lang(request)
    at = now(request.app)
    figures = request.app[FIGURES_KEY]()
    title = text(lang, "reliability_title")
    back = Markup(f'<p><a href="/?lang={lang}">{h(lang, "back")}</a></p>')
    header = Markup(f"<h1>{esc(title)}</h1>")
    if figures is None:
        return render(lang, title, header, Markup(f"{back}<p>{h(lang, 'rel_none')}</p>"))
    registry = request.app[FLEET_KEY].registry
    open_repairs = request.app[ASSETS_KEY].repairs.open_by_site()
    main = Markup(
        f"{back}<p class=muted>{h(lang, 'rel_intro', when=when(lang, figures.at, at))}</p>"
        + section(lang, "rel_sites", sites_table(lang, figures, registry, open_repairs))
        + section(lang, "rel_open", open_table(lang, request, at))
        + section(lang, "rel_roles", roles_table(lang, figures, registry))
        + section(lang, "rel_models", models_table(lang, figures))
        + section(lang, "rel_stations", stations_table(lang, figures)))
    return render(lang, title, header, main)
